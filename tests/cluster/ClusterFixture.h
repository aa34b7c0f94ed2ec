#pragma once
// Helpers for the cluster tests: a redis-server of the test's own, server
// instances (in this process) sharing it, the messages clients send, and
// what an instance (in this process or not) says over HTTP.

#include "RawHttp.h"
#include "RedisServer.h"
#include "TestClient.h"
#include "TestServer.h"

#include "cluster/ClusterBus.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QTest>

#include <memory>

namespace medrelay::test {

using namespace Qt::StringLiterals;

// Instances of one cluster in this process, on one redis-server.
class Cluster final
{
public:
    explicit Cluster(RedisServer &redis) : m_redis(redis) {}

    // A new instance; `tweak` adjusts its configuration further.
    TestServer &add(const std::function<void(server::ServerConfig &)> &tweak = {})
    {
        const QString url = m_redis.url();
        m_servers.push_back(std::make_unique<TestServer>([&](server::ServerConfig &c) {
            c.redisUrl = url;
            c.clusterPresenceTtlMs = 2000;
            if (tweak)
                tweak(c);
        }));
        return *m_servers.back();
    }
    // `count` instances that share an admin token.
    void addWithAdminToken(int count, const QString &token)
    {
        for (int i = 0; i < count; ++i)
            QVERIFY(add([&token](server::ServerConfig &c) { c.adminToken = token; }).started());
    }
    TestServer &operator[](int i) { return *m_servers.at(static_cast<size_t>(i)); }
    [[nodiscard]] int size() const { return static_cast<int>(m_servers.size()); }
    void remove(int i) { m_servers.erase(m_servers.begin() + i); }

    // Every instance has Redis and its presence registered.
    [[nodiscard]] bool available() const
    {
        for (const auto &s : m_servers) {
            if (!s->started() || !s->app().cluster() || !s->app().cluster()->available())
                return false;
        }
        return true;
    }

private:
    RedisServer &m_redis;
    std::vector<std::unique_ptr<TestServer>> m_servers;
};

inline QJsonObject joinMessage(const QString &room, qint64 appointment, const QJsonValue &user,
                               const QString &role = {}, std::optional<qint64> lastSeq = std::nullopt)
{
    QJsonObject m{{u"type"_s, u"telemedicine_user_joined"_s},
                  {u"roomId"_s, room},
                  {u"appointmentId"_s, static_cast<double>(appointment)},
                  {u"userId"_s, user},
                  {u"userName"_s, u"User %1"_s.arg(user.toVariant().toString())}};
    if (!role.isEmpty())
        m.insert(u"role"_s, role);
    if (lastSeq)
        m.insert(u"lastSeq"_s, static_cast<double>(*lastSeq));
    return m;
}

// Opens `c` and joins `room` asking for everything stored (lastSeq 0);
// true once its room_state came.
inline bool joinFromStart(TestClient &c, const QUrl &url, const QString &room, const QJsonValue &user)
{
    if (!c.open(url))
        return false;
    c.send(joinMessage(room, 1, user, {}, 0));
    return c.waitFor(u"room_state"_s).has_value();
}

inline QJsonObject chat(const QString &room, const QString &text, const QString &clientMessageId = {})
{
    QJsonObject m{{u"type"_s, u"telemedicine_chat_message"_s},
                  {u"roomId"_s, room},
                  {u"appointmentId"_s, 1},
                  {u"message"_s, text}};
    if (!clientMessageId.isEmpty())
        m.insert(u"clientMessageId"_s, clientMessageId);
    return m;
}

inline QJsonObject offer(const QString &room, const QJsonValue &to = {})
{
    QJsonObject m{{u"type"_s, u"telemedicine_offer"_s},
                  {u"roomId"_s, room},
                  {u"appointmentId"_s, 1},
                  {u"offer"_s, QJsonObject{{u"type"_s, u"offer"_s}, {u"sdp"_s, u"v=0"_s}}}};
    if (!to.isUndefined() && !to.isNull())
        m.insert(u"to"_s, to);
    return m;
}

// The values of `field` in the messages of `type` a client received, in order.
inline QStringList valuesOf(const TestClient &c, const QString &type, const QString &field)
{
    QStringList out;
    for (const QJsonObject &m : c.received()) {
        if (m.value("type"_L1).toString() == type)
            out.append(m.value(field).toVariant().toString());
    }
    return out;
}

inline int countOf(const TestClient &c, const QString &type)
{
    int n = 0;
    for (const QJsonObject &m : c.received())
        n += m.value("type"_L1).toString() == type ? 1 : 0;
    return n;
}

// A and B join `room` on the first instance, C on the second; true once A
// has heard of both others. Their connection ids go to ca, cb, cc.
inline bool joinThree(Cluster &cluster, TestClient &a, TestClient &b, TestClient &c, const QString &room, QString &ca,
                      QString &cb, QString &cc)
{
    if (!a.open(cluster[0].wsUrl()) || !b.open(cluster[0].wsUrl()) || !c.open(cluster[1].wsUrl()))
        return false;
    ca = a.join(room, 1, 1, u"A"_s);
    cb = b.join(room, 1, 2, u"B"_s);
    cc = c.join(room, 1, 3, u"C"_s);
    if (ca.isEmpty() || cb.isEmpty() || cc.isEmpty())
        return false;
    return QTest::qWaitFor([&a] { return countOf(a, u"telemedicine_user_joined"_s) == 2; }, 5000);
}

// The connection ids of a list of participants (or guests), sorted.
inline QStringList connectionIds(const QJsonArray &people)
{
    QStringList out;
    for (const QJsonValue &p : people)
        out.append(p.toObject().value("connectionId"_L1).toString());
    out.sort();
    return out;
}

inline QStringList participantIds(const QJsonObject &roomState)
{
    return connectionIds(roomState.value("participants"_L1).toArray());
}

// The seqs of the chat messages a client received, in order.
inline QList<int> seqsOf(const TestClient &c)
{
    QList<int> out;
    for (const QString &s : valuesOf(c, u"telemedicine_chat_message"_s, u"seq"_s))
        out.append(s.toInt());
    return out;
}

// Over HTTP, as monitoring and an administrator see an instance (development
// mode: the admin API needs no token).

// "healthy", "degraded" or "draining" (/health).
inline QString healthStatus(quint16 port)
{
    return httpGet(port, "/health").json().value("status"_L1).toString();
}

// The value of medrelay_cluster_available in /metrics: 1, 0, or -1 if absent.
inline int clusterAvailableMetric(quint16 port)
{
    const QByteArray body = httpGet(port, "/metrics").body;
    if (body.contains("\nmedrelay_cluster_available 1\n"))
        return 1;
    if (body.contains("\nmedrelay_cluster_available 0\n"))
        return 0;
    return -1;
}

// Instances with a live presence, as one instance's /stats shows them.
inline int aliveInstances(quint16 port)
{
    int alive = 0;
    const QJsonObject stats = httpGet(port, "/stats").json();
    for (const QJsonValue &i : stats.value("cluster"_L1).toObject().value("instances"_L1).toArray())
        alive += i.toObject().value("alive"_L1).toBool() ? 1 : 0;
    return alive;
}

// The connection ids in a room, as one instance's admin API lists them.
inline QStringList roomParticipants(quint16 port, const QByteArray &room)
{
    return connectionIds(httpGet(port, "/admin/rooms/" + room).json().value("participants"_L1).toArray());
}

// The last seq one instance knows of in a room (admin API); -1 if none.
inline qint64 roomLastSeq(quint16 port, const QByteArray &room)
{
    const QJsonObject info = httpGet(port, "/admin/rooms/" + room).json();
    return info.contains("lastSeq"_L1) ? static_cast<qint64>(info.value("lastSeq"_L1).toDouble()) : -1;
}

} // namespace medrelay::test
