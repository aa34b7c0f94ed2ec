#pragma once
// Where the console's picture of a server comes from: the seam between the
// models (rooms, participants, events, header figures, activity) and however
// the data travels. PollingSource asks /health, /stats and /admin/events
// every second; StreamSource follows the admin event stream (a snapshot,
// then sequenced changes); FallbackSource uses the stream and polls servers
// that do not offer it.
//
// A source announces whole snapshots (roomsReplaced), single changes
// (roomUpdated, roomRemoved) or batches of them (roomsUpdated); the
// controller applies each to the same models, so nothing above this line
// knows which source is in use. Rooms always arrive whole (participants and
// waiting guests included).

#include "adminapi/AdminTypes.h"
#include "core/ActivityHistory.h"
#include "core/ConnectionState.h"
#include "core/EventLogModel.h"
#include "core/ServerFigures.h"

#include <QDateTime>
#include <QList>
#include <QObject>

#include <chrono>

namespace medrelay::console {

class DataSource : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DataSource)

public:
    explicit DataSource(QObject *parent = nullptr);
    ~DataSource() override;

    // How the data arrives, in words for the status bar ("polled every 1 s").
    [[nodiscard]] virtual QString description() const = 0;

    // Begins (state Connecting) with the server and token the controller set
    // on the AdminClient; stop() ends everything in flight (state Disconnected).
    virtual void start() = 0;
    virtual void stop() = 0;
    // Asks for fresh data at once (after an action, or F5); a stream may ignore it.
    virtual void refreshNow() = 0;

    [[nodiscard]] ConnectionState state() const { return m_state; }
    [[nodiscard]] QString stateReason() const { return m_reason; }
    [[nodiscard]] bool isLive() const { return Connection::isLive(m_state); }

Q_SIGNALS:
    void stateChanged(medrelay::console::ConnectionState state, const QString &reason);
    // Unreachable: the next attempt is due in `delay`.
    void retryScheduled(std::chrono::milliseconds delay);
    // The server restarted: what was known about it may be wrong.
    void serverRestarted();

    void figuresUpdated(const medrelay::console::ServerFigures &figures);
    // One point of the activity chart.
    void activitySampled(const medrelay::console::ActivitySample &sample);
    // Every room there is, with its participants; rooms not listed are gone.
    void roomsReplaced(const QList<medrelay::adminapi::RoomInfo> &rooms, const QDateTime &serverNow);
    // One room opened or changed (participants joined, left, ...).
    void roomUpdated(const medrelay::adminapi::RoomInfo &room, const QDateTime &serverNow);
    void roomRemoved(const QString &roomId, const QDateTime &serverNow);
    // Several rooms changed at once (their last activity, say).
    void roomsUpdated(const QList<medrelay::adminapi::RoomInfo> &rooms, const QDateTime &serverNow);
    // New entries of the server's event record, oldest first, each once.
    void eventsReceived(const QList<medrelay::adminapi::Event> &events);
    // Something about the source itself worth a line in the event log (the
    // stream resumed, a fresh snapshot replaced what was shown, polling
    // instead of the stream).
    void notice(const QString &text, medrelay::console::LogEntry::Severity severity);

protected:
    void setState(ConnectionState state, const QString &reason = {});

private:
    ConnectionState m_state = ConnectionState::Disconnected;
    QString m_reason;
};

} // namespace medrelay::console
