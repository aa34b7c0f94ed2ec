#pragma once
// One connection to Redis, driven by the Qt event loop of the thread it lives
// in: hiredis's asynchronous API with its socket watched by QSocketNotifiers,
// so no call ever blocks that thread (host names are resolved with QHostInfo
// before hiredis connects, since hiredis would resolve them synchronously).
//
// It connects by itself and keeps reconnecting, with exponential backoff and
// jitter, until it is destroyed. On every connection it authenticates (AUTH),
// selects the database (SELECT) and loads its Lua scripts before it reports
// ready(). A command connection pings Redis while idle and drops a
// connection that stops answering; a subscriber connection keeps its
// channels and subscribes to them again after each reconnect.
//
// Commands are never queued while disconnected: their callback runs (queued,
// never inside the call) with an error. A reply lost with its connection also
// comes back as an error; the command may or may not have run.
//
// Why not hiredis/adapters/qt.h: its adapter writes into the hiredis context
// in its destructor, and hiredis frees that context by itself when a
// connection fails or drops, so the adapter could never be destroyed safely.
// The binding here owns its notifiers and never touches a freed context.
//
// The password is never logged: log lines and errors name the redacted URL.

#include "cluster/RedisUrl.h"
#include "cluster/RedisValue.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <functional>

struct redisAsyncContext;

namespace medrelay::cluster {

class RedisConnection final : public QObject
{
    Q_OBJECT
public:
    enum class State : quint8 { Idle, Resolving, Connecting, Ready, Waiting };

    struct Options
    {
        RedisUrl url;
        QString name;            // in log lines: "history", "commands", "subscriber"
        bool subscriber = false; // (UN)SUBSCRIBE only: no pings
        int connectTimeoutMs = 3000;
        int pingIntervalMs = 1000;
        int pingTimeoutMs = 3000;
        int minBackoffMs = 100;
        int maxBackoffMs = 5000;
        QList<QByteArray> scripts; // Lua, loaded before ready() on every connection; run with eval()
    };
    using Callback = std::function<void(const RedisValue &reply)>;
    using MessageHandler = std::function<void(const QByteArray &channel, const QByteArray &payload)>;

    explicit RedisConnection(Options options, QObject *parent = nullptr);
    ~RedisConnection() override;
    Q_DISABLE_COPY_MOVE(RedisConnection)

    // Connects, and from then on reconnects whenever the connection is lost.
    void start();
    [[nodiscard]] State state() const { return m_state; }
    [[nodiscard]] bool isReady() const { return m_state == State::Ready; }
    [[nodiscard]] const Options &options() const { return m_options; }

    // Sends a command (binary-safe arguments). `done` may be empty.
    void command(const QList<QByteArray> &args, Callback done = {});
    // Runs script `index` of Options::scripts with EVALSHA (EVAL when Redis
    // lost it from its script cache).
    void eval(int index, const QList<QByteArray> &keys, const QList<QByteArray> &args, Callback done = {});
    // Drops the connection (if any) and connects again after the backoff.
    // Safe to call from a reply callback: it takes effect afterwards.
    void reconnect(const QString &why);

    // Subscriber connections: the channels wanted; subscribed() once Redis
    // confirmed one (again after each reconnect).
    void setMessageHandler(MessageHandler handler) { m_onMessage = std::move(handler); }
    void subscribe(const QByteArray &channel);
    void unsubscribe(const QByteArray &channel);
    [[nodiscard]] bool isSubscribed(const QByteArray &channel) const;
    [[nodiscard]] qsizetype wantedChannels() const { return m_wanted.size(); }

    [[nodiscard]] qint64 connectCount() const { return m_connects; }
    [[nodiscard]] const QString &lastError() const { return m_lastError; }

Q_SIGNALS:
    void ready();
    void lost(const QString &why);
    void subscribed(const QByteArray &channel);

private:
    struct Binding;
    enum class Channel : quint8 { Subscribing, Subscribed, Unsubscribing };

    static void onConnected(const redisAsyncContext *ac, int status);
    static void onDisconnected(const redisAsyncContext *ac, int status);
    static void onReply(redisAsyncContext *ac, void *reply, void *privdata);
    static void onChannelReply(redisAsyncContext *ac, void *reply, void *privdata);

    void connectNow();
    void connectTo(const QString &address);
    void handshake();
    void becomeReady();
    void contextGone(const QString &why);
    void scheduleRetry();
    void pingTick();
    void failLater(const Callback &done, const QByteArray &why);
    bool send(const QList<QByteArray> &args, Callback done);
    void reconcile(const QByteArray &channel);
    void channelReply(const RedisValue &reply);

    Options m_options;
    QList<QByteArray> m_shas;
    redisAsyncContext *m_ac = nullptr;
    Binding *m_binding = nullptr; // of m_ac
    State m_state = State::Idle;
    bool m_destroying = false;
    int m_attempt = 0;
    qint64 m_connects = 0;
    QString m_lastError;
    QTimer m_retry;
    QTimer m_connectTimeout;
    QTimer m_ping;
    QElapsedTimer m_pingSent; // valid while a ping waits for its answer
    int m_lookupId = -1;

    MessageHandler m_onMessage;
    QSet<QByteArray> m_wanted;
    QHash<QByteArray, Channel> m_channels;
};

} // namespace medrelay::cluster
