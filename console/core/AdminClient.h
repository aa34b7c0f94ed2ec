#pragma once
// The console's only link to a medrelay server: polls GET /health, /stats and
// /admin/events on a timer, keeps the connection state (connecting, connected,
// draining, unauthorised, unreachable), reconnects with backoff when the server
// goes away, and runs the admin actions. Everything is asynchronous: no call
// here waits for the network.

#include "adminapi/AdminTypes.h"
#include "core/Backoff.h"
#include "core/ConnectionState.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QUrl>

#include <chrono>
#include <optional>

class QNetworkAccessManager;
class QNetworkReply;
class QJsonObject;

namespace medrelay::console {

class AdminClient final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AdminClient)

public:
    using State = ConnectionState;

    enum class Action { CloseRoom, CloseIdleRooms, CloseIdleRoomsDryRun, DisconnectConnection, EndConsultation };
    Q_ENUM(Action)

    explicit AdminClient(QObject *parent = nullptr);
    ~AdminClient() override;

    // Base URL such as http://127.0.0.1:9003 (a path prefix is kept for reverse proxies).
    void setServer(const QUrl &baseUrl, const QString &token);
    [[nodiscard]] QUrl serverUrl() const { return m_base; }
    [[nodiscard]] bool hasToken() const { return !m_token.isEmpty(); }
    // For the event stream, which speaks to the same server with the same token.
    [[nodiscard]] QString token() const { return m_token; }
    // The URL of `path` on the server (a reverse proxy's path prefix kept).
    [[nodiscard]] QUrl urlFor(const QString &path, const QString &query = {}) const;

    void setPollInterval(std::chrono::milliseconds interval) { m_interval = interval; }
    [[nodiscard]] std::chrono::milliseconds pollInterval() const { return m_interval; }
    void setRequestTimeout(std::chrono::milliseconds timeout) { m_timeout = timeout; }
    [[nodiscard]] std::chrono::milliseconds requestTimeout() const { return m_timeout; }
    void setBackoffLimits(std::chrono::milliseconds minimum, std::chrono::milliseconds maximum);
    [[nodiscard]] std::pair<std::chrono::milliseconds, std::chrono::milliseconds> backoffLimits() const
    {
        return {m_backoff.minimum(), m_backoff.maximum()};
    }

    // Begins polling (state Connecting); stop() aborts everything in flight.
    void start();
    void stop();
    // Polls at once instead of waiting for the timer (after an action, or F5).
    void refreshNow();

    [[nodiscard]] State state() const { return m_state; }
    // Whether a poll is in flight or scheduled (false after stop() and after a refused token).
    [[nodiscard]] bool isPolling() const { return m_running; }
    [[nodiscard]] QString stateReason() const { return m_reason; }
    [[nodiscard]] static QString stateName(State state) { return Connection::stateName(state); }
    [[nodiscard]] bool isLive() const { return Connection::isLive(m_state); }
    [[nodiscard]] const std::optional<adminapi::Health> &lastHealth() const { return m_health; }
    [[nodiscard]] const std::optional<adminapi::Stats> &lastStats() const { return m_stats; }
    // The server's connection cap, when its /stats reports one ("maxConnections");
    // older servers do not, and the console then shows no cap.
    [[nodiscard]] std::optional<int> lastConnectionCap() const { return m_connectionCap; }

    // Admin actions; each ends in exactly one actionFinished().
    void closeRoom(const QString &roomId, const QString &reason);
    void closeIdleRooms(qint64 idleSeconds, const QString &reason, bool dryRun);
    void disconnectConnection(const QString &connectionId, const QString &reason);
    void endConsultation(const QString &roomId, const QString &reason);

    // GET /admin/rooms/{id}: one room with its participants, waiting guests
    // and message counts; ends in exactly one roomFetched().
    void fetchRoom(const QString &roomId);

    [[nodiscard]] static QString actionName(Action action);

Q_SIGNALS:
    void stateChanged(medrelay::console::ConnectionState state, const QString &reason);
    void healthUpdated(const medrelay::adminapi::Health &health);
    void statsUpdated(const medrelay::adminapi::Stats &stats);
    void eventsReceived(const QList<medrelay::adminapi::Event> &events);
    void actionFinished(medrelay::console::AdminClient::Action action,
                        const medrelay::adminapi::ActionResult &result);
    // The server restarted (uptime went back or event numbers restarted).
    void serverRestarted();
    // `room` is empty when the server has no such room (`status` 404), did
    // not answer, or is too old to offer the request (`error` says which).
    void roomFetched(const QString &roomId, const std::optional<medrelay::adminapi::RoomInfo> &room, int status,
                     const QString &error);
    // Unreachable: the next attempt is due in `delay`.
    void retryScheduled(std::chrono::milliseconds delay);

private:
    void poll();
    void onHealthReply(QNetworkReply *reply);
    void onStatsReply(QNetworkReply *reply);
    void onEventsReply(QNetworkReply *reply);
    void finishCycle();
    void fail(State state, const QString &reason);
    void setState(State state, const QString &reason = {});
    void scheduleNext(std::chrono::milliseconds delay);
    QNetworkReply *get(const QString &path, const QString &query = {});
    void post(Action action, const QString &path, const QJsonObject &body);
    void track(QNetworkReply *reply);

    QNetworkAccessManager *m_nam = nullptr;
    QTimer m_timer;
    QElapsedTimer m_cycleClock;
    QPointer<QNetworkReply> m_pollReply; // the one poll request in flight, if any
    Backoff m_backoff;
    QUrl m_base;
    QString m_token;
    std::chrono::milliseconds m_interval{1000};
    std::chrono::milliseconds m_timeout{4000};
    State m_state = State::Disconnected;
    QString m_reason;
    std::optional<adminapi::Health> m_health;
    std::optional<adminapi::Stats> m_stats;
    std::optional<int> m_connectionCap;
    qint64 m_eventsSince = 0;
    quint64 m_generation = 0; // bumped by stop()/setServer() so late replies are ignored
    bool m_running = false;
    bool m_refreshRequested = false;
    bool m_eventsUnsupported = false;
};

} // namespace medrelay::console
