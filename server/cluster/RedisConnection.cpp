#include "cluster/RedisConnection.h"

#include <QCryptographicHash>
#include <QHostAddress>
#include <QHostInfo>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QSocketNotifier>
#include <QVarLengthArray>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <memory>

Q_LOGGING_CATEGORY(lcRedis, "medrelay.redis")

namespace medrelay::cluster {

using namespace Qt::StringLiterals;

namespace {

RedisValue fromReply(const redisReply *r)
{
    RedisValue v;
    switch (r->type) {
    case REDIS_REPLY_STRING:
        v.type = RedisValue::Type::String;
        v.bytes = QByteArray(r->str, static_cast<qsizetype>(r->len));
        break;
    case REDIS_REPLY_STATUS:
        v.type = RedisValue::Type::Status;
        v.bytes = QByteArray(r->str, static_cast<qsizetype>(r->len));
        break;
    case REDIS_REPLY_ERROR:
        v.type = RedisValue::Type::Error;
        v.bytes = QByteArray(r->str, static_cast<qsizetype>(r->len));
        break;
    case REDIS_REPLY_INTEGER:
        v.type = RedisValue::Type::Integer;
        v.integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
        v.type = RedisValue::Type::Array;
        v.elements.reserve(static_cast<qsizetype>(r->elements));
        for (size_t i = 0; i < r->elements; ++i)
            v.elements.append(fromReply(r->element[i]));
        break;
    default:
        break;
    }
    return v;
}

struct Pending
{
    RedisConnection::Callback done;
};

} // namespace

// Watches one hiredis context's socket on this thread's event loop. hiredis
// calls the hooks; `cleanup` comes before hiredis frees the context, and
// after it the binding never touches the context again.
struct RedisConnection::Binding final : public QObject
{
    explicit Binding(redisAsyncContext *context, QObject *parent)
        : QObject(parent)
        , ac(context)
    {
        ac->ev.data = this;
        ac->ev.addRead = [](void *p) { static_cast<Binding *>(p)->watch(QSocketNotifier::Read, true); };
        ac->ev.delRead = [](void *p) { static_cast<Binding *>(p)->watch(QSocketNotifier::Read, false); };
        ac->ev.addWrite = [](void *p) { static_cast<Binding *>(p)->watch(QSocketNotifier::Write, true); };
        ac->ev.delWrite = [](void *p) { static_cast<Binding *>(p)->watch(QSocketNotifier::Write, false); };
        ac->ev.cleanup = [](void *p) { static_cast<Binding *>(p)->release(); };
    }

    void watch(QSocketNotifier::Type type, bool on)
    {
        QSocketNotifier *&n = type == QSocketNotifier::Read ? read : write;
        if (!ac)
            return;
        if (!n) {
            if (!on)
                return;
            n = new QSocketNotifier(ac->c.fd, type, this);
            connect(n, &QSocketNotifier::activated, this, [this, type] {
                if (!ac)
                    return;
                if (type == QSocketNotifier::Read)
                    redisAsyncHandleRead(ac);
                else
                    redisAsyncHandleWrite(ac);
            });
        }
        n->setEnabled(on);
    }

    void release()
    {
        ac = nullptr;
        // Possibly inside one of the notifiers' own signals: disabled now,
        // deleted once control is back in the event loop.
        for (QSocketNotifier *n : {read, write}) {
            if (n)
                n->setEnabled(false);
        }
        deleteLater();
    }

    redisAsyncContext *ac = nullptr;
    QSocketNotifier *read = nullptr;
    QSocketNotifier *write = nullptr;
};

RedisConnection::RedisConnection(Options options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
{
    for (const QByteArray &script : std::as_const(m_options.scripts))
        m_shas.append(QCryptographicHash::hash(script, QCryptographicHash::Sha1).toHex());
    m_retry.setSingleShot(true);
    connect(&m_retry, &QTimer::timeout, this, &RedisConnection::connectNow);
    m_connectTimeout.setSingleShot(true);
    m_connectTimeout.setInterval(m_options.connectTimeoutMs);
    connect(&m_connectTimeout, &QTimer::timeout, this, [this] {
        reconnect(u"no connection within %1 ms"_s.arg(m_options.connectTimeoutMs));
    });
    m_ping.setInterval(m_options.pingIntervalMs);
    connect(&m_ping, &QTimer::timeout, this, &RedisConnection::pingTick);
}

RedisConnection::~RedisConnection()
{
    m_destroying = true;
    if (m_lookupId >= 0)
        QHostInfo::abortHostLookup(m_lookupId);
    if (m_ac) {
        redisAsyncContext *ac = m_ac;
        m_ac = nullptr;
        // Pending callbacks run with no reply and are skipped (m_destroying).
        redisAsyncFree(ac);
    }
}

void RedisConnection::start()
{
    if (m_state == State::Idle)
        connectNow();
}

void RedisConnection::connectNow()
{
    if (m_destroying || m_ac)
        return;
    const QString &host = m_options.url.host;
    if (!QHostAddress(host).isNull()) {
        connectTo(host);
        return;
    }
    // hiredis would resolve the name with a blocking getaddrinfo().
    m_state = State::Resolving;
    m_lookupId = QHostInfo::lookupHost(host, this, [this](const QHostInfo &info) {
        m_lookupId = -1;
        if (info.error() != QHostInfo::NoError || info.addresses().isEmpty()) {
            m_lastError = u"cannot resolve %1: %2"_s.arg(m_options.url.host, info.errorString());
            scheduleRetry();
            return;
        }
        connectTo(info.addresses().constFirst().toString());
    });
}

void RedisConnection::connectTo(const QString &address)
{
    redisAsyncContext *ac = redisAsyncConnect(address.toUtf8().constData(), m_options.url.port);
    if (!ac || ac->err) {
        m_lastError = ac ? QString::fromUtf8(ac->errstr) : u"out of memory"_s;
        if (ac)
            redisAsyncFree(ac);
        scheduleRetry();
        return;
    }
    ac->data = this;
    m_ac = ac;
    m_binding = new Binding(ac, this);
    redisAsyncSetConnectCallback(ac, &RedisConnection::onConnected);
    redisAsyncSetDisconnectCallback(ac, &RedisConnection::onDisconnected);
    // A subscriber sends nothing while it waits: let the kernel notice a
    // peer that vanished.
    redisEnableKeepAlive(&ac->c);
    m_state = State::Connecting;
    m_connectTimeout.start();
    handshake();
}

void RedisConnection::handshake()
{
    // Pipelined: AUTH, SELECT, the scripts, then a PING whose answer means
    // everything before it succeeded.
    auto failed = std::make_shared<QString>();
    const auto check = [this, failed](const QString &what) {
        return [this, failed, what](const RedisValue &r) {
            if (r.isError() && failed->isEmpty()) {
                *failed = u"%1 failed: %2"_s.arg(what, QString::fromUtf8(r.bytes.left(200)));
                reconnect(*failed);
            }
        };
    };
    if (!m_options.url.password.isEmpty()) {
        QList<QByteArray> auth{"AUTH"};
        if (!m_options.url.user.isEmpty())
            auth.append(m_options.url.user.toUtf8());
        auth.append(m_options.url.password.toUtf8());
        send(auth, check(u"AUTH"_s));
    }
    if (m_options.url.db != 0)
        send({"SELECT", QByteArray::number(m_options.url.db)}, check(u"SELECT"_s));
    for (const QByteArray &script : std::as_const(m_options.scripts))
        send({"SCRIPT", "LOAD", script}, check(u"SCRIPT LOAD"_s));
    send({"PING"}, [this, failed](const RedisValue &r) {
        if (failed->isEmpty() && !r.isError() && m_state == State::Connecting)
            becomeReady();
    });
}

void RedisConnection::becomeReady()
{
    m_connectTimeout.stop();
    m_state = State::Ready;
    m_attempt = 0;
    ++m_connects;
    qCInfo(lcRedis).noquote() << m_options.name << "connected to" << m_options.url.redacted();
    if (m_options.subscriber) {
        for (const QByteArray &channel : std::as_const(m_wanted))
            reconcile(channel);
    } else {
        m_pingSent.invalidate();
        m_ping.start();
    }
    Q_EMIT ready();
}

void RedisConnection::onConnected(const redisAsyncContext *ac, int status)
{
    auto *self = static_cast<RedisConnection *>(ac->data);
    if (status != REDIS_OK && self && !self->m_destroying)
        self->contextGone(QString::fromUtf8(ac->errstr ? ac->errstr : "connection failed"));
}

void RedisConnection::onDisconnected(const redisAsyncContext *ac, int /*status*/)
{
    auto *self = static_cast<RedisConnection *>(ac->data);
    if (self && !self->m_destroying)
        self->contextGone(ac->err ? QString::fromUtf8(ac->errstr) : self->m_lastError);
}

void RedisConnection::contextGone(const QString &why)
{
    // hiredis frees the context right after this returns.
    if (!m_ac)
        return;
    m_ac = nullptr;
    m_binding = nullptr; // it deletes itself
    m_connectTimeout.stop();
    m_ping.stop();
    m_pingSent.invalidate();
    m_channels.clear();
    const bool wasReady = m_state == State::Ready;
    m_lastError = why.isEmpty() ? u"connection closed"_s : why;
    scheduleRetry();
    if (wasReady) {
        qCWarning(lcRedis).noquote() << m_options.name << "lost its connection to" << m_options.url.redacted() << ":"
                                     << m_lastError;
        Q_EMIT lost(m_lastError);
    }
}

void RedisConnection::scheduleRetry()
{
    if (m_destroying)
        return;
    m_state = State::Waiting;
    // Exponential backoff with jitter, so instances that lost Redis together
    // do not all come back in the same millisecond.
    const qint64 base = std::min<qint64>(m_options.maxBackoffMs,
                                         qint64(m_options.minBackoffMs) << std::min(m_attempt, 16));
    const int delay = static_cast<int>(base / 2 + QRandomGenerator::global()->bounded(base / 2 + 1));
    if (m_attempt == 0 || m_attempt % 20 == 0) {
        qCWarning(lcRedis).noquote() << m_options.name << "cannot reach" << m_options.url.redacted() << ":"
                                     << m_lastError << "(trying again)";
    }
    ++m_attempt;
    m_retry.start(delay);
}

void RedisConnection::reconnect(const QString &why)
{
    QMetaObject::invokeMethod(
        this,
        [this, why] {
            if (m_destroying)
                return;
            if (m_lookupId >= 0) {
                QHostInfo::abortHostLookup(m_lookupId);
                m_lookupId = -1;
            }
            if (!m_ac) {
                if (m_state != State::Waiting) {
                    m_lastError = why;
                    scheduleRetry();
                }
                return;
            }
            m_lastError = why;
            redisAsyncContext *ac = m_ac;
            redisAsyncFree(ac); // runs onDisconnected when it was connected
            contextGone(why);   // when it was not
        },
        Qt::QueuedConnection);
}

void RedisConnection::pingTick()
{
    if (m_state != State::Ready)
        return;
    if (m_pingSent.isValid()) {
        if (m_pingSent.elapsed() > m_options.pingTimeoutMs)
            reconnect(u"no answer to PING within %1 ms"_s.arg(m_options.pingTimeoutMs));
        return;
    }
    m_pingSent.start();
    send({"PING"}, [this](const RedisValue &) { m_pingSent.invalidate(); });
}

void RedisConnection::failLater(const Callback &done, const QByteArray &why)
{
    if (!done)
        return;
    QMetaObject::invokeMethod(this, [done, why] { done(RedisValue::error(why)); }, Qt::QueuedConnection);
}

bool RedisConnection::send(const QList<QByteArray> &args, Callback done)
{
    if (!m_ac) {
        failLater(done, "not connected to Redis");
        return false;
    }
    QVarLengthArray<const char *, 16> argv;
    QVarLengthArray<size_t, 16> lengths;
    for (const QByteArray &a : args) {
        argv.append(a.constData());
        lengths.append(static_cast<size_t>(a.size()));
    }
    auto *pending = new Pending{std::move(done)};
    if (redisAsyncCommandArgv(m_ac, &RedisConnection::onReply, pending, static_cast<int>(argv.size()), argv.data(),
                              lengths.data())
        != REDIS_OK) {
        failLater(pending->done, "command not sent (connection closing)");
        delete pending;
        return false;
    }
    return true;
}

void RedisConnection::onReply(redisAsyncContext *ac, void *reply, void *privdata)
{
    std::unique_ptr<Pending> pending(static_cast<Pending *>(privdata));
    auto *self = static_cast<RedisConnection *>(ac->data);
    if (!self || self->m_destroying || !pending || !pending->done)
        return;
    pending->done(reply ? fromReply(static_cast<const redisReply *>(reply))
                        : RedisValue::error("connection to Redis lost before the reply"));
}

void RedisConnection::command(const QList<QByteArray> &args, Callback done)
{
    if (m_state != State::Ready) {
        failLater(done, "not connected to Redis");
        return;
    }
    send(args, std::move(done));
}

void RedisConnection::eval(int index, const QList<QByteArray> &keys, const QList<QByteArray> &args, Callback done)
{
    if (index < 0 || index >= m_shas.size()) {
        failLater(done, "no such script");
        return;
    }
    QList<QByteArray> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv << "EVALSHA" << m_shas[index] << QByteArray::number(keys.size());
    argv << keys << args;
    if (m_state != State::Ready) {
        failLater(done, "not connected to Redis");
        return;
    }
    // Redis forgets scripts on SCRIPT FLUSH: run it with its text then.
    send(argv, [this, index, argv, done](const RedisValue &r) mutable {
        if (r.isError() && r.bytes.startsWith("NOSCRIPT") && m_state == State::Ready) {
            argv[0] = "EVAL";
            argv[1] = m_options.scripts[index];
            send(argv, std::move(done));
            return;
        }
        if (done)
            done(r);
    });
}

// ---------------------------------------------------------------- channels

void RedisConnection::subscribe(const QByteArray &channel)
{
    m_wanted.insert(channel);
    reconcile(channel);
}

void RedisConnection::unsubscribe(const QByteArray &channel)
{
    if (m_wanted.remove(channel))
        reconcile(channel);
}

bool RedisConnection::isSubscribed(const QByteArray &channel) const
{
    return m_wanted.contains(channel) && m_channels.value(channel, Channel::Subscribing) == Channel::Subscribed;
}

// One (UN)SUBSCRIBE in flight per channel at most: hiredis keeps one callback
// per channel and drops it when an UNSUBSCRIBE is confirmed, so a SUBSCRIBE
// sent before that confirmation would lose its messages.
void RedisConnection::reconcile(const QByteArray &channel)
{
    if (m_state != State::Ready || !m_ac)
        return;
    const bool want = m_wanted.contains(channel);
    const auto it = m_channels.find(channel);
    const char *verb = nullptr;
    if (it == m_channels.end()) {
        if (!want)
            return;
        m_channels.insert(channel, Channel::Subscribing);
        verb = "SUBSCRIBE";
    } else if (*it == Channel::Subscribed && !want) {
        *it = Channel::Unsubscribing;
        verb = "UNSUBSCRIBE";
    } else {
        return;
    }
    const char *argv[] = {verb, channel.constData()};
    const size_t lengths[] = {std::strlen(verb), static_cast<size_t>(channel.size())};
    redisAsyncCommandArgv(m_ac, &RedisConnection::onChannelReply, nullptr, 2, argv, lengths);
}

void RedisConnection::onChannelReply(redisAsyncContext *ac, void *reply, void * /*privdata*/)
{
    auto *self = static_cast<RedisConnection *>(ac->data);
    if (!reply || !self || self->m_destroying)
        return;
    self->channelReply(fromReply(static_cast<const redisReply *>(reply)));
}

void RedisConnection::channelReply(const RedisValue &reply)
{
    if (reply.size() < 2)
        return;
    const QByteArray &kind = reply.at(0).bytes;
    const QByteArray &channel = reply.at(1).bytes;
    if (kind == "message") {
        if (m_onMessage && m_wanted.contains(channel))
            m_onMessage(channel, reply.at(2).bytes);
        return;
    }
    if (kind == "subscribe") {
        m_channels.insert(channel, Channel::Subscribed);
        if (m_wanted.contains(channel))
            Q_EMIT subscribed(channel);
        else
            reconcile(channel);
    } else if (kind == "unsubscribe") {
        m_channels.remove(channel);
        reconcile(channel);
    }
}

} // namespace medrelay::cluster
