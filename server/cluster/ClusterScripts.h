#pragma once
// The Lua scripts behind ClusterBus: every decision about a shared room
// (join, admission, settings, removal, ending, closing, leaving, the resume
// grace, a dead instance's members) is one script, run atomically by Redis,
// which changes the room's state, counts its version up by one and publishes
// the change on the room's channel in the same step. Times come from the
// calling instance's clock (ARGV).

#include <QByteArray>
#include <QList>

namespace medrelay::cluster::clusterscripts {

enum Script : int {
    Join = 0,
    Leave,
    Away,
    Resolve,
    Expire,
    Admit,
    Remove,
    Settings,
    End,
    Close,
    Snapshot,
    Sync,
    Reap,
    ExpireDue,
    Directory,
    Count
};

// The scripts in Script order, for RedisConnection::Options::scripts.
[[nodiscard]] QList<QByteArray> all();

} // namespace medrelay::cluster::clusterscripts
