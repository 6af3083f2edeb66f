/* The alarms a cluster has raised (etcd's AlarmStore): a set of (member, alarm type) pairs.
 * NOSPACE is raised when a write would pass --quota-backend-bytes and turns writes that add
 * data away until it is disarmed (Maintenance.Alarm DEACTIVATE, etcdctl alarm disarm).
 *
 * Bound: ALARMS_MAX pairs (every member with every type etcd knows); activating past it fails.
 * Thread: the apply actor's; others read the cluster view's copy. */
#ifndef RINGD_ALARM_H
#define RINGD_ALARM_H

#include <stdbool.h>
#include <stdint.h>

#include "ringd_limits.h"

/* etcd's AlarmType values. */
enum alarm_type {
    ALARM_NONE = 0,
    ALARM_NOSPACE = 1,
    ALARM_CORRUPT = 2,
};

struct alarm_member {
    uint64_t member_id;
    int32_t type; /* enum alarm_type, or another value a client sent */
};

struct alarm_set {
    uint32_t count;
    struct alarm_member items[ALARMS_MAX]; /* in the order they were raised */
};

/* Raises (member, type); an existing pair stays. Returns the pair, or NULL when the set is
 * full. */
const struct alarm_member *alarm_activate(struct alarm_set *s, uint64_t member_id, int32_t type);

/* Disarms (member, type). Returns true and the removed pair in *out if it was raised. */
bool alarm_deactivate(struct alarm_set *s, uint64_t member_id, int32_t type,
                      struct alarm_member *out);

/* How many pairs of type there are (ALARM_NONE: all). */
uint32_t alarm_count(const struct alarm_set *s, int32_t type);

/* etcd's text for an alarm in StatusResponse.errors (gogo's AlarmMember.String()):
 * "memberID:10276657743932975437 alarm:NOSPACE ". Returns the length. */
int alarm_format(const struct alarm_member *m, char *out, uint32_t out_bytes);

#endif
