/* Declared in sim.h: a simulated member is raft core + fake disk + the KV state machine + the
 * client requests it works on. This header only names the file's own limits. */
#ifndef RINGD_SIM_MEMBER_H
#define RINGD_SIM_MEMBER_H

#define SIM_DRIVE_READIES_MAX 4 /* Readies handled in one go before yielding to other events */

#endif
