#include "cluster/ClusterBus.h"

#include "cluster/ClusterScripts.h"
#include "cluster/RedisConnection.h"
#include "cluster/RedisHistoryStore.h"
#include "cluster/RedisKeys.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QRandomGenerator>

Q_LOGGING_CATEGORY(lcCluster, "medrelay.cluster")

namespace medrelay::cluster {

using namespace Qt::StringLiterals;
using protocol::ErrorCode;
using server::CommandResult;
using server::JoinDecision;
using server::RoomChange;
using server::SharedCommand;
using server::SharedMember;
using server::SharedRoom;
namespace scripts = clusterscripts;

namespace {

constexpr int kDirectoryLimit = 2000;

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

QByteArray num(qint64 n)
{
    return QByteArray::number(n);
}

qint64 numberOf(const QJsonValue &v)
{
    if (v.isString())
        return v.toString().toLongLong();
    return static_cast<qint64>(v.toDouble());
}

QByteArray memberJson(const SharedMember &m)
{
    const QJsonObject o{{u"c"_s, m.connectionId},
                        {u"i"_s, m.instance},
                        {u"u"_s, m.identity.userId},
                        {u"n"_s, m.identity.userName},
                        {u"r"_s, m.identity.role},
                        {u"h"_s, m.host},
                        {u"j"_s, QString::number(m.joinedAtMs)},
                        {u"s"_s, m.away ? u"w"_s : u"a"_s},
                        {u"au"_s, QString::number(m.awayUntilMs)}};
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

SharedMember memberFrom(const QJsonObject &o)
{
    SharedMember m;
    m.connectionId = o.value("c"_L1).toString();
    m.instance = o.value("i"_L1).toString();
    m.identity.userId = o.value("u"_L1).toString();
    m.identity.userName = o.value("n"_L1).toString();
    m.identity.role = o.value("r"_L1).toString();
    m.host = o.value("h"_L1).toBool();
    m.joinedAtMs = numberOf(o.value("j"_L1));
    m.away = o.value("s"_L1).toString() == "w"_L1;
    m.awayUntilMs = numberOf(o.value("au"_L1));
    return m;
}

SharedMember memberFrom(const QByteArray &json)
{
    return memberFrom(QJsonDocument::fromJson(json).object());
}

QByteArray membersJson(const QList<SharedMember> &members)
{
    if (members.isEmpty())
        return "[]";
    QByteArray out = "[";
    for (const SharedMember &m : members) {
        if (out.size() > 1)
            out += ',';
        out += memberJson(m);
    }
    return out + ']';
}

RoomChange::Type changeType(const QString &t)
{
    static const QHash<QString, RoomChange::Type> types{
        {u"joined"_s, RoomChange::Type::Joined},     {u"resumed"_s, RoomChange::Type::Resumed},
        {u"waiting"_s, RoomChange::Type::Waiting},   {u"admitted"_s, RoomChange::Type::Admitted},
        {u"resolved"_s, RoomChange::Type::Resolved}, {u"left"_s, RoomChange::Type::Left},
        {u"away"_s, RoomChange::Type::Away},         {u"back"_s, RoomChange::Type::Back},
        {u"removed"_s, RoomChange::Type::Removed},   {u"settings"_s, RoomChange::Type::Settings},
        {u"ended"_s, RoomChange::Type::Ended},       {u"closed"_s, RoomChange::Type::Closed},
    };
    return types.value(t, RoomChange::Type::Unknown);
}

std::optional<RoomChange> parseChange(const QByteArray &payload)
{
    const qsizetype eol = payload.indexOf('\n');
    const QByteArray header = payload.mid(1, eol < 0 ? -1 : eol - 1);
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(header, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return std::nullopt;
    const QJsonObject o = doc.object();
    RoomChange c;
    c.type = changeType(o.value("t"_L1).toString());
    c.version = numberOf(o.value("v"_L1));
    if (c.type == RoomChange::Type::Unknown || c.version <= 0)
        return std::nullopt;
    c.origin = o.value("o"_L1).toString();
    if (o.contains("m"_L1))
        c.member = memberFrom(o.value("m"_L1).toObject());
    c.connectionId = o.value("c"_L1).toString();
    for (const QJsonValue &v : o.value("cs"_L1).toArray())
        c.connectionIds.append(v.toString());
    c.userId = o.value("u"_L1).toString();
    c.reason = o.value("why"_L1).toString();
    c.decision = o.value("d"_L1).toString();
    c.by = o.value("by"_L1).toString();
    c.byConnection = o.value("byc"_L1).toString();
    c.waitingRoom = o.value("wr"_L1).toBool();
    c.locked = o.value("lk"_L1).toBool();
    c.awayUntilMs = numberOf(o.value("au"_L1));
    c.endedBy = o.value("eb"_L1).toString();
    c.atMs = numberOf(o.value("at"_L1));
    c.refuseUntilMs = numberOf(o.value("rf"_L1));
    if (o.contains("rq"_L1))
        c.requestId = o.value("rq"_L1);
    if (eol >= 0)
        c.text = payload.mid(eol + 1);
    return c;
}

QString randomId()
{
    QString id = u"i"_s;
    for (int i = 0; i < 10; ++i)
        id += QChar::fromLatin1("0123456789abcdefghijklmnopqrstuvwxyz"[QRandomGenerator::system()->bounded(36)]);
    return id;
}

} // namespace

ClusterBus::ClusterBus(Options options, RedisHistoryStore &history, std::unique_ptr<store::HistoryCipher> cipher,
                       QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_id(m_options.instanceId.isEmpty() ? randomId() : m_options.instanceId)
    , m_startedAtMs(nowMs())
    , m_history(history)
    , m_cipher(std::move(cipher))
{
    RedisConnection::Options c;
    c.url = m_options.url;
    c.name = u"cluster commands"_s;
    c.connectTimeoutMs = m_options.connectTimeoutMs;
    c.pingTimeoutMs = m_options.pingTimeoutMs;
    c.scripts = scripts::all();
    m_cmd = new RedisConnection(c, this);
    RedisConnection::Options s;
    s.url = m_options.url;
    s.name = u"cluster subscriber"_s;
    s.subscriber = true;
    s.connectTimeoutMs = m_options.connectTimeoutMs;
    m_sub = new RedisConnection(s, this);
    m_instanceChannel = keys::instanceChannel(m_options.url.db, m_id);

    connect(m_cmd, &RedisConnection::ready, this, &ClusterBus::refreshPresence);
    connect(m_cmd, &RedisConnection::lost, this, [this] {
        m_registered = false;
        // The subscriber may have missed messages too, unnoticed.
        m_sub->reconnect(u"the command connection was lost"_s);
        markAllForResync();
        updateAvailability();
    });
    connect(m_sub, &RedisConnection::ready, this, &ClusterBus::updateAvailability);
    connect(m_sub, &RedisConnection::lost, this, [this] {
        markAllForResync();
        updateAvailability();
    });
    connect(m_sub, &RedisConnection::subscribed, this, &ClusterBus::onSubscribed);
    m_sub->setMessageHandler([this](const QByteArray &channel, const QByteArray &payload) { onMessage(channel, payload); });

    m_presence.setInterval(std::max(200, m_options.presenceTtlMs / 3));
    connect(&m_presence, &QTimer::timeout, this, &ClusterBus::refreshPresence);
    m_reaper.setInterval(std::max(200, m_options.presenceTtlMs / 3));
    connect(&m_reaper, &QTimer::timeout, this, &ClusterBus::reap);
    m_expiry.setInterval(1000);
    connect(&m_expiry, &QTimer::timeout, this, &ClusterBus::expireDue);
    m_directoryTimer.setInterval(m_options.directoryRefreshMs);
    connect(&m_directoryTimer, &QTimer::timeout, this, &ClusterBus::refreshDirectory);
    // The history store reaches Redis on a connection (and thread) of its
    // own, which may come back after this one's or go alone: stored messages
    // need it, so the link counts as available only with it.
    m_history.setAvailabilityListener(this, [this] { updateAvailability(); });
}

ClusterBus::~ClusterBus()
{
    m_history.setAvailabilityListener(nullptr, {});
}

void ClusterBus::start()
{
    qCInfo(lcCluster).noquote() << "cluster mode: instance" << m_id << "on" << m_options.url.redacted();
    m_sub->subscribe(m_instanceChannel);
    m_cmd->start();
    m_sub->start();
    m_presence.start();
    m_reaper.start();
    m_expiry.start();
    m_directoryTimer.start();
}

bool ClusterBus::redisConnected() const
{
    return m_cmd->isReady() && m_sub->isReady();
}

QByteArray ClusterBus::channelOf(const QString &roomId) const
{
    return keys::roomChannel(m_options.url.db, roomId);
}

QList<QByteArray> ClusterBus::roomKeys(const QString &roomId) const
{
    return {keys::key(keys::kRoomState, roomId), keys::key(keys::kRoomVersion, roomId), keys::key(keys::kMembers, roomId),
            keys::key(keys::kWaiting, roomId),   keys::key(keys::kRemoved, roomId),     keys::kRooms,
            keys::kAway};
}

QList<QByteArray> ClusterBus::head(const QString &roomId) const
{
    return {roomId.toUtf8(), m_id.toUtf8(), channelOf(roomId), keys::kInstanceRooms};
}

void ClusterBus::eval(int script, const QList<QByteArray> &keyList, const QList<QByteArray> &args, QObject *context,
                      std::function<void(const RedisValue &)> done)
{
    QPointer<QObject> guard(context);
    const bool wantsAnswer = context != nullptr && done;
    m_cmd->eval(script, keyList, args, [guard, wantsAnswer, done](const RedisValue &r) {
        if (!wantsAnswer)
            return;
        if (guard)
            done(r);
    });
}

// ---------------------------------------------------------------- presence

void ClusterBus::refreshPresence()
{
    if (!m_cmd->isReady())
        return;
    const qint64 now = nowMs();
    const Figures f = m_figures ? m_figures() : Figures{};
    const QByteArray description = QJsonDocument(QJsonObject{{u"name"_s, m_name},
                                                             {u"started"_s, QString::number(m_startedAtMs)}})
                                       .toJson(QJsonDocument::Compact);
    const QByteArray figures = QJsonDocument(QJsonObject{{u"connections"_s, f.connections},
                                                         {u"rooms"_s, f.rooms},
                                                         {u"at"_s, QString::number(now)}})
                                   .toJson(QJsonDocument::Compact);
    m_cmd->command({"SET", keys::key(keys::kAlive, m_id), num(now), "PX", num(m_options.presenceTtlMs)});
    m_cmd->command({"HSET", keys::kInstances, m_id.toUtf8(), description});
    m_cmd->command({"SET", keys::key(keys::kInstanceStats, m_id), figures, "PX", num(3LL * m_options.presenceTtlMs)},
                   [this](const RedisValue &r) {
                       if (r.isError() || m_registered)
                           return;
                       m_registered = true;
                       m_registeredFor.start();
                       updateAvailability();
                   });
}

void ClusterBus::updateAvailability()
{
    const bool now = m_cmd->isReady() && m_sub->isReady() && m_registered && m_history.isAvailable();
    if (now == m_available)
        return;
    m_available = now;
    if (now)
        qCInfo(lcCluster) << "cluster link available";
    else
        qCWarning(lcCluster) << "cluster link unavailable: serving rooms whose members are all here";
    if (!now) {
        const QStringList rooms = m_rooms.keys();
        for (const QString &room : rooms)
            failWaiters(room, u"the cluster is unavailable"_s);
    }
    if (m_sink)
        m_sink->linkChanged(now);
    Q_EMIT availabilityChanged(now);
    if (now)
        tryResyncs();
}

void ClusterBus::markAllForResync()
{
    for (auto it = m_rooms.cbegin(); it != m_rooms.cend(); ++it)
        m_resync.insert(it.key());
}

void ClusterBus::tryResyncs()
{
    if (!m_available || !m_sink)
        return;
    const QList<QString> rooms(m_resync.cbegin(), m_resync.cend());
    for (const QString &room : rooms) {
        const auto e = m_rooms.constFind(room);
        if (e == m_rooms.cend()) {
            m_resync.remove(room);
            continue;
        }
        if (!m_sub->isSubscribed(e->channel))
            continue;
        m_resync.remove(room);
        ++m_counters.resyncs;
        m_sink->roomNeedsResync(room);
    }
}

void ClusterBus::reap()
{
    // Right after a (re)connection, others may not have refreshed their
    // presence yet: wait one TTL before taking anybody for dead.
    if (!m_available || !m_registeredFor.isValid() || m_registeredFor.elapsed() < m_options.presenceTtlMs)
        return;
    const QList<QByteArray> k{keys::kInstances, keys::kAway, keys::kRooms};
    const QList<QByteArray> args{num(nowMs()),
                                 num(m_options.resumeGraceMs),
                                 m_id.toUtf8(),
                                 keys::kAlive,
                                 keys::kInstanceRooms,
                                 keys::kInstanceStats,
                                 keys::kRoomState,
                                 keys::kRoomVersion,
                                 keys::kMembers,
                                 keys::kWaiting,
                                 keys::kRemoved,
                                 "mr:" + num(m_options.url.db) + ":room:"};
    eval(scripts::Reap, k, args, this, [this](const RedisValue &r) {
        for (qsizetype i = 0; i < r.size(); ++i) {
            ++m_counters.reaped;
            qCWarning(lcCluster).noquote() << "instance" << QString::fromUtf8(r.at(i).bytes)
                                           << "stopped refreshing its presence: its participants are away for"
                                           << m_options.resumeGraceMs << "ms, then leave";
        }
    });
}

void ClusterBus::expireDue()
{
    if (!m_available)
        return;
    const QList<QByteArray> k{keys::kAway, keys::kRooms};
    const QList<QByteArray> args{num(nowMs()),
                                 "100",
                                 m_id.toUtf8(),
                                 keys::kRoomState,
                                 keys::kRoomVersion,
                                 keys::kMembers,
                                 keys::kWaiting,
                                 keys::kRemoved,
                                 "mr:" + num(m_options.url.db) + ":room:",
                                 keys::kInstanceRooms};
    eval(scripts::ExpireDue, k, args, nullptr, {});
}

// ---------------------------------------------------------------- rooms

void ClusterBus::openRoom(const QString &roomId, QObject *context, std::function<void(SharedRoom)> done)
{
    Entry &e = m_rooms[roomId];
    e.channel = channelOf(roomId);
    m_channelRooms.insert(e.channel, roomId);
    e.waiters.append({QPointer<QObject>(context), std::move(done)});
    if (!m_available) {
        QMetaObject::invokeMethod(this, [this, roomId] { failWaiters(roomId, u"the cluster is unavailable"_s); },
                                  Qt::QueuedConnection);
        return;
    }
    if (m_sub->isSubscribed(e.channel)) {
        serveWaiters(roomId);
        return;
    }
    m_sub->subscribe(e.channel);
    QTimer::singleShot(std::max(1000, m_options.connectTimeoutMs + m_options.pingTimeoutMs), this, [this, roomId] {
        const auto it = m_rooms.constFind(roomId);
        if (it != m_rooms.cend() && !it->waiters.isEmpty() && !m_sub->isSubscribed(it->channel))
            failWaiters(roomId, u"no subscription to the room's channel"_s);
    });
}

void ClusterBus::serveWaiters(const QString &roomId)
{
    auto it = m_rooms.find(roomId);
    if (it == m_rooms.end() || it->waiters.isEmpty())
        return;
    const QList<Waiter> waiters = std::exchange(it->waiters, {});
    fetchRoom(roomId, this, [waiters](const SharedRoom &room) {
        for (const Waiter &w : waiters) {
            if (w.context && w.done)
                w.done(room);
        }
    });
}

void ClusterBus::failWaiters(const QString &roomId, const QString &why)
{
    auto it = m_rooms.find(roomId);
    if (it == m_rooms.end() || it->waiters.isEmpty())
        return;
    const QList<Waiter> waiters = std::exchange(it->waiters, {});
    SharedRoom failed;
    failed.error = why;
    for (const Waiter &w : waiters) {
        if (w.context && w.done)
            w.done(failed);
    }
}

void ClusterBus::releaseRoom(const QString &roomId)
{
    const auto it = m_rooms.find(roomId);
    if (it == m_rooms.end())
        return;
    m_sub->unsubscribe(it->channel);
    m_channelRooms.remove(it->channel);
    m_resync.remove(roomId);
    m_rooms.erase(it);
}

void ClusterBus::onSubscribed(const QByteArray &channel)
{
    const QString roomId = m_channelRooms.value(channel);
    if (roomId.isEmpty())
        return;
    serveWaiters(roomId);
    tryResyncs();
}

void ClusterBus::fetchRoom(const QString &roomId, QObject *context, std::function<void(SharedRoom)> done)
{
    QList<QByteArray> k = roomKeys(roomId).mid(0, 5);
    k.append(keys::key(keys::kHistoryRoom, roomId));
    eval(scripts::Snapshot, k, {num(nowMs())}, context, [done](const RedisValue &r) {
        SharedRoom room;
        if (r.isError()) {
            room.error = QString::fromUtf8(r.bytes.left(200));
            done(room);
            return;
        }
        room.ok = true;
        room.exists = r.at(0).toInteger() == 1;
        room.version = r.at(1).toInteger();
        room.appointmentId = r.at(2).toInteger();
        room.createdAtMs = r.at(3).toInteger();
        room.endsAtMs = r.at(4).toInteger();
        room.waitingRoom = r.at(5).bytes == "1";
        room.locked = r.at(6).bytes == "1";
        room.ended = r.at(7).toInteger() == 1;
        for (qsizetype i = 0; i < r.at(8).size(); ++i)
            room.members.append(memberFrom(r.at(8).at(i).bytes));
        for (qsizetype i = 0; i < r.at(9).size(); ++i)
            room.waiting.append(memberFrom(r.at(9).at(i).bytes));
        for (qsizetype i = 0; i < r.at(10).size(); ++i)
            room.removedUsers.append(QString::fromUtf8(r.at(10).at(i).bytes));
        std::sort(room.members.begin(), room.members.end(),
                  [](const SharedMember &a, const SharedMember &b) { return a.joinedAtMs < b.joinedAtMs; });
        std::sort(room.waiting.begin(), room.waiting.end(),
                  [](const SharedMember &a, const SharedMember &b) { return a.joinedAtMs < b.joinedAtMs; });
        done(room);
    });
}

void ClusterBus::syncRoom(const QString &roomId, const QList<SharedMember> &members, const QList<SharedMember> &waiting,
                          const server::SharedJoin &defaults, QObject *context, std::function<void(bool, bool)> done)
{
    QList<QByteArray> k = roomKeys(roomId).mid(0, 5);
    k << keys::key(keys::kHistoryRoom, roomId) << keys::kRooms << keys::kAway;
    QList<QByteArray> args = head(roomId);
    args << num(nowMs()) << num(defaults.appointmentId) << num(defaults.endsAtMs)
         << (defaults.waitingRoomByDefault ? "1" : "0") << membersJson(members) << membersJson(waiting);
    eval(scripts::Sync, k, args, context, [done](const RedisValue &r) {
        if (r.isError()) {
            qCWarning(lcCluster).noquote() << "room sync failed:" << QString::fromUtf8(r.bytes.left(200));
            done(false, false);
            return;
        }
        done(true, r.at(0).bytes == "ended");
    });
}

void ClusterBus::join(const server::SharedJoin &j, QObject *context, std::function<void(JoinDecision)> done)
{
    QList<QByteArray> k = roomKeys(j.roomId).mid(0, 5);
    k << keys::key(keys::kHistoryRoom, j.roomId) << keys::kRooms << keys::kAway;
    QList<QByteArray> args = head(j.roomId);
    args << memberJson(j.member) << num(j.appointmentId) << num(nowMs()) << num(j.maxParticipants)
         << (j.waitingRoomByDefault ? "1" : "0") << num(j.endsAtMs) << j.announcement;
    eval(scripts::Join, k, args, context, [done](const RedisValue &r) {
        JoinDecision d;
        if (r.isError()) {
            d.outcome = JoinDecision::Outcome::Failed;
            d.error = QString::fromUtf8(r.bytes.left(200));
            done(d);
            return;
        }
        const QByteArray &what = r.at(0).bytes;
        d.version = r.at(1).toInteger();
        d.outcome = JoinDecision::Outcome::Refused;
        if (what == "joined")
            d.outcome = JoinDecision::Outcome::Joined;
        else if (what == "resumed")
            d.outcome = JoinDecision::Outcome::Resumed;
        else if (what == "waiting")
            d.outcome = JoinDecision::Outcome::Waiting;
        else if (what == "member")
            d.outcome = JoinDecision::Outcome::AlreadyMember;
        else if (what == "waiting_already")
            d.outcome = JoinDecision::Outcome::AlreadyWaiting;
        else if (what == "ended")
            d.refusal = ErrorCode::ConsultationEnded;
        else if (what == "mismatch")
            d.refusal = ErrorCode::AppointmentMismatch;
        else if (what == "removed")
            d.refusal = ErrorCode::Forbidden;
        else if (what == "locked")
            d.refusal = ErrorCode::RoomLocked;
        else if (what == "full")
            d.refusal = ErrorCode::RoomFull;
        else
            d.outcome = JoinDecision::Outcome::Failed;
        done(d);
    });
}

void ClusterBus::command(const SharedCommand &c, QObject *context, std::function<void(CommandResult)> done)
{
    const QString roomId = c.roomId;
    QList<QByteArray> args = head(roomId);
    const auto refused = [](ErrorCode code, const QString &why) {
        CommandResult r;
        r.refusal = code;
        r.error = why;
        return r;
    };
    // The scripts answer {status, version, ...}: a command that went through.
    const auto accepted = [](const RedisValue &r) {
        CommandResult ok;
        ok.ok = true;
        ok.version = r.at(1).toInteger();
        return ok;
    };
    // Ending and closing both answer 1 when the room was there.
    const auto roomRemoved = [=](const RedisValue &r) {
        if (r.at(0).toInteger() != 1)
            return refused(ErrorCode::NotFound, u"no such room"_s);
        return accepted(r);
    };
    std::function<CommandResult(const RedisValue &)> decode;
    int script = scripts::Admit;
    QList<QByteArray> k = roomKeys(roomId);
    switch (c.type) {
    case SharedCommand::Type::Admit:
        script = scripts::Admit;
        args << c.connectionId.toUtf8() << num(c.maxParticipants) << num(nowMs()) << c.by.toUtf8()
             << c.byConnection.toUtf8();
        decode = [=](const RedisValue &r) {
            if (r.at(0).bytes == "not_waiting")
                return refused(ErrorCode::NotWaiting,
                               u"'%1' is not waiting for room '%2'"_s.arg(c.connectionId, roomId));
            if (r.at(0).bytes == "full")
                return refused(ErrorCode::RoomFull, u"room '%1' is full"_s.arg(roomId));
            return accepted(r);
        };
        break;
    case SharedCommand::Type::Deny:
        script = scripts::Resolve;
        args << c.connectionId.toUtf8() << "denied" << c.by.toUtf8() << c.byConnection.toUtf8();
        decode = [=](const RedisValue &r) {
            if (r.at(0).toInteger() != 1)
                return refused(ErrorCode::NotWaiting,
                               u"'%1' is not waiting for room '%2'"_s.arg(c.connectionId, roomId));
            return accepted(r);
        };
        break;
    case SharedCommand::Type::Remove:
        script = scripts::Remove;
        args << c.connectionId.toUtf8() << c.by.toUtf8() << c.byConnection.toUtf8();
        decode = [=](const RedisValue &r) {
            if (r.at(0).bytes != "ok")
                return refused(ErrorCode::TargetNotFound,
                               u"no participant '%1' in room '%2'"_s.arg(c.connectionId, roomId));
            return accepted(r);
        };
        break;
    case SharedCommand::Type::Settings: {
        script = scripts::Settings;
        const auto flag = [](const std::optional<bool> &b) -> QByteArray { return !b ? "" : *b ? "1" : "0"; };
        QByteArray rq;
        if (!c.requestId.isUndefined() && !c.requestId.isNull())
            rq = QJsonDocument(QJsonArray{c.requestId}).toJson(QJsonDocument::Compact);
        args << flag(c.waitingRoom) << flag(c.locked) << c.by.toUtf8() << c.byConnection.toUtf8() << rq
             << num(c.maxParticipants) << num(nowMs());
        decode = [=](const RedisValue &r) {
            if (r.at(0).bytes != "ok")
                return refused(ErrorCode::NotMember, u"not a member of room '%1'"_s.arg(roomId));
            CommandResult ok = accepted(r);
            for (qsizetype i = 2; i < r.size(); ++i)
                ok.refusedFull.append(QString::fromUtf8(r.at(i).bytes));
            return ok;
        };
        break;
    }
    case SharedCommand::Type::End:
        script = scripts::End;
        k << keys::key(keys::kHistoryRoom, roomId) << keys::kRefused;
        args << c.reason.toUtf8() << c.by.toUtf8() << c.byConnection.toUtf8() << c.endedBy.toUtf8() << num(c.atMs)
             << num(c.refuseUntilMs);
        decode = roomRemoved;
        break;
    case SharedCommand::Type::Close:
        script = scripts::Close;
        args << c.reason.toUtf8();
        decode = roomRemoved;
        break;
    }
    if (!m_available) {
        if (context && done) {
            QPointer<QObject> guard(context);
            QMetaObject::invokeMethod(
                this,
                [guard, done, refused] {
                    if (guard)
                        done(refused(ErrorCode::ClusterUnavailable, u"the cluster is unavailable; try again"_s));
                },
                Qt::QueuedConnection);
        }
        return;
    }
    eval(script, k, args, context, [done, decode, refused](const RedisValue &r) {
        if (!done)
            return;
        if (r.isError()) {
            done(refused(ErrorCode::ClusterUnavailable, u"the cluster is unavailable; try again"_s));
            return;
        }
        done(decode(r));
    });
}

void ClusterBus::left(const QString &roomId, const QString &connectionId, const QString &reason,
                      const QByteArray &announcement, const QString &by)
{
    if (!m_available)
        return; // told when the link is back (the room's resync)
    QList<QByteArray> args = head(roomId);
    args << connectionId.toUtf8() << reason.toUtf8() << by.toUtf8() << QByteArray() << announcement;
    eval(scripts::Leave, roomKeys(roomId), args, nullptr, {});
}

void ClusterBus::away(const QString &roomId, const QString &connectionId, qint64 awayUntilMs)
{
    if (!m_available)
        return;
    QList<QByteArray> args = head(roomId);
    args << connectionId.toUtf8() << num(awayUntilMs);
    eval(scripts::Away, roomKeys(roomId), args, nullptr, {});
}

void ClusterBus::cancelWaiting(const QString &roomId, const QString &connectionId)
{
    if (!m_available)
        return;
    QList<QByteArray> args = head(roomId);
    args << connectionId.toUtf8() << "cancelled" << QByteArray() << QByteArray();
    eval(scripts::Resolve, roomKeys(roomId), args, nullptr, {});
}

void ClusterBus::expire(const QString &roomId, const QString &connectionId)
{
    if (!m_available)
        return;
    QList<QByteArray> args = head(roomId);
    args << connectionId.toUtf8() << num(nowMs());
    eval(scripts::Expire, roomKeys(roomId), args, nullptr, {});
}

// ---------------------------------------------------------------- messages

void ClusterBus::relay(const QString &roomId, protocol::MessageKind kind, const QString &sender,
                       const QStringList &targets, const QByteArray &text)
{
    if (!m_available)
        return;
    QByteArray payload;
    const QByteArray wire = QByteArray(protocol::wireName(kind).data(), protocol::wireName(kind).size());
    const QByteArray to = targets.join(u',').toUtf8();
    payload.reserve(4 + wire.size() + sender.size() + to.size() + text.size());
    payload.append('R').append(wire).append('|').append(sender.toUtf8()).append('|').append(to).append('|').append(text);
    ++m_counters.published;
    m_cmd->command({"PUBLISH", channelOf(roomId), payload});
}

namespace {

// A stored message on its room's channel: S<seq>|<class>|<sender>|<record>.
RedisHistoryStore::Publication publicationOf(QByteArray channel, const store::AppendRequest &request,
                                             const QString &sender)
{
    RedisHistoryStore::Publication pub;
    pub.channel = std::move(channel);
    const QByteArray header = '|' + QByteArray::number(static_cast<int>(request.cls)) + '|' + sender.toUtf8() + '|';
    pub.payload = [header](qint64 seq, const QByteArray &record) {
        QByteArray out;
        out.reserve(24 + header.size() + record.size());
        out.append('S').append(QByteArray::number(seq)).append(header).append(record);
        return out;
    };
    return pub;
}

} // namespace

void ClusterBus::appendStored(store::AppendRequest request, const QString &sender, QObject *context,
                              std::function<void(store::AppendResult)> done)
{
    RedisHistoryStore::Publication pub = publicationOf(channelOf(request.roomId), request, sender);
    m_history.appendAndPublish(std::move(request), std::move(pub), context, std::move(done));
}

void ClusterBus::appendStoredAt(store::AppendRequest request, qint64 seq, const QString &sender, QObject *context,
                                std::function<void(store::AppendResult)> done)
{
    RedisHistoryStore::Publication pub = publicationOf(channelOf(request.roomId), request, sender);
    m_history.appendAtAndPublish(std::move(request), seq, std::move(pub), context, std::move(done));
}

void ClusterBus::onMessage(const QByteArray &channel, const QByteArray &payload)
{
    if (channel == m_instanceChannel) {
        // D<connection>|<reason>: an administrator elsewhere closes one of ours.
        if (payload.startsWith('D')) {
            const qsizetype bar = payload.indexOf('|');
            Q_EMIT disconnectRequested(QString::fromUtf8(payload.mid(1, bar < 0 ? -1 : bar - 1)),
                                       bar < 0 ? QString() : QString::fromUtf8(payload.mid(bar + 1)));
        }
        return;
    }
    const QString roomId = m_channelRooms.value(channel);
    if (roomId.isEmpty() || payload.isEmpty() || !m_sink)
        return;
    ++m_counters.received;
    switch (payload.at(0)) {
    case 'E': {
        const auto change = parseChange(payload);
        if (change)
            m_sink->roomChanged(roomId, *change);
        else
            qCWarning(lcCluster) << "unreadable change on the channel of room" << roomId;
        return;
    }
    case 'S': {
        // S<seq>|<class>|<sender>|<record>
        const qsizetype a = payload.indexOf('|');
        const qsizetype b = a < 0 ? -1 : payload.indexOf('|', a + 1);
        const qsizetype c = b < 0 ? -1 : payload.indexOf('|', b + 1);
        if (c < 0)
            return;
        const qint64 seq = payload.mid(1, a - 1).toLongLong();
        const auto cls = static_cast<store::MessageClass>(payload.mid(a + 1, b - a - 1).toInt());
        const QString sender = QString::fromUtf8(payload.mid(b + 1, c - b - 1));
        QByteArray body = payload.mid(c + 1);
        if (m_cipher) {
            auto opened = m_cipher->open(body, store::RecordBinding{roomId, seq, static_cast<quint8>(cls)});
            if (!opened) {
                qCWarning(lcCluster) << "a stored message on the channel of room" << roomId
                                     << "failed authentication; dropped";
                return;
            }
            body = std::move(*opened);
        }
        m_sink->storedArrived(roomId, seq, cls, sender, body);
        return;
    }
    case 'R': {
        // R<kind>|<sender>|<targets>|<text>
        const qsizetype a = payload.indexOf('|');
        const qsizetype b = a < 0 ? -1 : payload.indexOf('|', a + 1);
        const qsizetype c = b < 0 ? -1 : payload.indexOf('|', b + 1);
        if (c < 0)
            return;
        const auto kind = protocol::kindFromWire(QString::fromUtf8(payload.mid(1, a - 1)));
        if (!kind)
            return;
        const QString sender = QString::fromUtf8(payload.mid(a + 1, b - a - 1));
        const QByteArray to = payload.mid(b + 1, c - b - 1);
        const QStringList targets = to.isEmpty() ? QStringList() : QString::fromUtf8(to).split(u',');
        m_sink->relayArrived(roomId, *kind, sender, targets, payload.mid(c + 1));
        return;
    }
    default:
        return;
    }
}

// ---------------------------------------------------------------- directory

const ClusterBus::Directory &ClusterBus::directory()
{
    const bool idle = !m_directoryWanted.isValid() || m_directoryWanted.elapsed() > 60'000;
    m_directoryWanted.start();
    if (idle || m_directory.refreshedAtMs == 0)
        refreshDirectory();
    return m_directory;
}

QString ClusterBus::instanceOf(const QString &connectionId)
{
    for (const RoomSummary &room : directory().rooms) {
        for (const QList<SharedMember> *list : {&room.members, &room.waiting}) {
            for (const SharedMember &m : *list) {
                if (m.connectionId == connectionId)
                    return m.instance;
            }
        }
    }
    return {};
}

void ClusterBus::disconnectElsewhere(const QString &instance, const QString &connectionId, const QString &reason)
{
    if (!m_available)
        return;
    m_cmd->command({"PUBLISH", keys::instanceChannel(m_options.url.db, instance),
                    'D' + connectionId.toUtf8() + '|' + reason.toUtf8()});
}

void ClusterBus::refreshDirectory()
{
    if (!m_available || m_directoryPending || !m_directoryWanted.isValid() || m_directoryWanted.elapsed() > 60'000)
        return;
    m_directoryPending = true;
    const QList<QByteArray> k{keys::kInstances, keys::kRooms};
    const QList<QByteArray> args{num(kDirectoryLimit), keys::kAlive, keys::kInstanceStats, keys::kRoomState,
                                 keys::kMembers, keys::kWaiting};
    eval(scripts::Directory, k, args, this, [this](const RedisValue &r) {
        m_directoryPending = false;
        if (r.isError())
            return;
        Directory d;
        const RedisValue &instances = r.at(0);
        for (qsizetype i = 0; i < instances.size(); ++i) {
            const RedisValue &e = instances.at(i);
            InstanceInfo info;
            info.id = QString::fromUtf8(e.at(0).bytes);
            const QJsonObject description = QJsonDocument::fromJson(e.at(1).bytes).object();
            const QJsonObject figures = QJsonDocument::fromJson(e.at(2).bytes).object();
            info.name = description.value("name"_L1).toString();
            info.startedAtMs = numberOf(description.value("started"_L1));
            info.connections = figures.value("connections"_L1).toInt();
            info.rooms = figures.value("rooms"_L1).toInt();
            info.alive = e.at(3).toInteger() == 1;
            info.self = info.id == m_id;
            d.instances.append(info);
        }
        std::sort(d.instances.begin(), d.instances.end(),
                  [](const InstanceInfo &a, const InstanceInfo &b) { return a.id < b.id; });
        const RedisValue &rooms = r.at(1);
        for (qsizetype i = 0; i < rooms.size(); ++i) {
            const RedisValue &e = rooms.at(i);
            RoomSummary room;
            room.id = QString::fromUtf8(e.at(0).bytes);
            room.appointmentId = e.at(1).toInteger();
            room.createdAtMs = e.at(2).toInteger();
            room.waitingRoom = e.at(3).bytes == "1";
            room.locked = e.at(4).bytes == "1";
            for (qsizetype j = 0; j < e.at(5).size(); ++j)
                room.members.append(memberFrom(e.at(5).at(j).bytes));
            for (qsizetype j = 0; j < e.at(6).size(); ++j)
                room.waiting.append(memberFrom(e.at(6).at(j).bytes));
            d.rooms.append(room);
        }
        std::sort(d.rooms.begin(), d.rooms.end(), [](const RoomSummary &a, const RoomSummary &b) { return a.id < b.id; });
        d.roomCount = static_cast<int>(r.at(2).toInteger());
        d.refreshedAtMs = nowMs();
        m_directory = std::move(d);
    });
}

} // namespace medrelay::cluster
