#pragma once
// The admin event stream as a DataSource: one WebSocket to GET /admin/ws
// (the admin token in an Authorization: Bearer header on the upgrade), a
// snapshot of the server and its rooms, then every change, numbered. The
// rooms are kept here whole (participants and waiting guests included) and
// each change is applied to them and passed on as a single room update, so
// the models change row by row, never by a reset.
//
// No silent gap: a change whose number is not the next one makes it
// reconnect at once asking for what it missed; a lost connection reconnects
// with backoff, asking (since=last seq, epoch) to resume; when the server
// can no longer replay (it restarted, or the console was away too long) it
// sends a fresh snapshot, which replaces what is shown and is said so in the
// event log. A stream that falls silent (the server sends counters every
// second) counts as lost.
//
// Server, token, timeouts and backoff limits are the AdminClient's, so both
// ways of reaching the server behave alike. A server that refuses the
// stream for another reason than the token (404 from an older server, 503
// while draining) is reported with unavailable(): FallbackSource polls then.

#include "controller/DataSource.h"
#include "core/Backoff.h"

#include <QHash>
#include <QJsonObject>
#include <QPointer>
#include <QTimer>

class QWebSocket;

namespace medrelay::console {

class AdminClient;

class StreamSource final : public DataSource
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StreamSource)

public:
    // `client` is not owned and must outlive this source.
    explicit StreamSource(AdminClient *client, QObject *parent = nullptr);
    ~StreamSource() override;

    [[nodiscard]] QString description() const override;
    void start() override;
    void stop() override;
    // Unreachable: try again now. Otherwise changes arrive by themselves.
    void refreshNow() override;

    // The stream's identity and position: what a reconnection resumes from.
    [[nodiscard]] QString epoch() const { return m_epoch; }
    [[nodiscard]] qint64 seq() const { return m_seq; }
    [[nodiscard]] qsizetype roomCount() const { return m_rooms.size(); }
    // How often the stream resumed without a gap, and how often a fresh snapshot replaced what was shown.
    [[nodiscard]] int resumes() const { return m_resumes; }
    [[nodiscard]] int resets() const { return m_resets; }
    // A stream silent this long is taken for lost.
    void setSilenceLimit(std::chrono::milliseconds limit) { m_silenceLimit = limit; }

    // The WebSocket URL for `server` (http -> ws, https -> wss, a path prefix kept).
    [[nodiscard]] static QUrl streamUrl(const QUrl &server, const QString &since = {}, const QString &epoch = {});

Q_SIGNALS:
    // The server did not open the stream: `httpStatus` (404: it has none;
    // 503: not now) or 0 when it was not an HTTP refusal.
    void unavailable(int httpStatus, const QString &reason);

private:
    void open();
    void onMessage(const QString &text);
    void onLost(const QString &reason, int httpStatus);
    void retryLater();
    void closeSocket();
    void applySnapshot(const QJsonObject &o);
    void applyResumed(const QJsonObject &o);
    void applyChange(const QJsonObject &o);
    void applyCounters(const QJsonObject &counters, const QDateTime &at);
    void applyActivity(const QJsonObject &o, const QDateTime &at);
    // Reconnects at once, asking for what came after m_seq.
    void resync(const QString &why);
    void goLive();
    // Merges a change's room summary into the room kept here (people stay).
    adminapi::RoomInfo *mergeSummary(const QString &roomId, const QJsonObject &summary);
    // `userId` and `connectionId` stand in for the change's own when it names
    // the person elsewhere (a join names them in its participant).
    void emitEvent(const QString &kind, const QJsonObject &o, const QDateTime &at, const QString &detail = {},
                   const QString &userId = {}, const QString &connectionId = {});

    AdminClient *m_client = nullptr;
    QPointer<QWebSocket> m_socket;
    Backoff m_backoff;
    QTimer m_retry;
    QTimer m_silence;     // restarted by every message
    QTimer m_openTimeout; // from open() to the snapshot (or resumed)
    std::chrono::milliseconds m_silenceLimit{5000};
    QHash<QString, adminapi::RoomInfo> m_rooms;
    ServerFigures m_figures;
    QString m_epoch;
    qint64 m_seq = -1;        // the last change applied; -1 before any snapshot
    quint64 m_generation = 0; // bumped per socket so a closed one's late signals are ignored
    int m_resumes = 0;
    int m_resets = 0;
    bool m_active = false;
    bool m_synced = false;    // this socket delivered its snapshot (or resumed)
    bool m_handled = false;   // this socket's loss was dealt with
};

} // namespace medrelay::console
