#pragma once
// One consultation as the console watches it (the consultation view):
// its participants (with host and state), guests in the waiting room, its
// settings, start and duration, how many messages of each kind it has
// relayed, and a timeline of what happened while it was watched (joins,
// leaves, lost connections, admissions, settings changes, the end). Ids,
// names, counts and times only: never message text.
//
// Opening it fetches the room (GET /admin/rooms/{id}); the data source's
// room changes keep it current, and it fetches again every few seconds
// while open, since message counts change without any room change. An
// older server that cannot answer that request still shows what the rooms
// table knows. No widgets: the window's panel shows it, tests drive it.

#include "adminapi/AdminTypes.h"

#include <QDateTime>
#include <QHash>
#include <QObject>
#include <QTimer>

#include <chrono>
#include <optional>

namespace medrelay::console {

class AdminClient;
class MessageCountsModel;
class ParticipantsModel;
class TimelineModel;

class Consultation final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Consultation)

public:
    // `client` is not owned and must outlive this object.
    explicit Consultation(AdminClient *client, QObject *parent = nullptr);
    ~Consultation() override;

    // Watches `roomId` from now on; `known` is what the console already
    // knows of it (shown until the fetch answers), or null.
    void open(const QString &roomId, const adminapi::RoomInfo *known, const QDateTime &serverNow);
    void close();
    [[nodiscard]] bool isOpen() const { return !m_roomId.isEmpty(); }
    [[nodiscard]] QString roomId() const { return m_roomId; }

    // The room as last known (valid once anything is known).
    [[nodiscard]] const std::optional<adminapi::RoomInfo> &room() const { return m_room; }
    // The room closed, its consultation ended, or it never existed.
    [[nodiscard]] bool isGone() const { return m_gone; }
    [[nodiscard]] QString goneReason() const { return m_goneReason; }
    // The server's clock as of the latest data.
    [[nodiscard]] QDateTime now() const { return m_now; }
    [[nodiscard]] qint64 durationSeconds() const;
    // Whether the last fetch succeeded (false: an older server, or it failed; see fetchError()).
    [[nodiscard]] bool fetched() const { return m_fetched; }
    [[nodiscard]] QString fetchError() const { return m_fetchError; }

    [[nodiscard]] ParticipantsModel *participants() const { return m_participants; }
    [[nodiscard]] ParticipantsModel *waiting() const { return m_waiting; }
    [[nodiscard]] MessageCountsModel *messages() const { return m_messages; }
    [[nodiscard]] TimelineModel *timeline() const { return m_timeline; }

    void setRefreshInterval(std::chrono::milliseconds interval);
    // Whether the server answers now: fetching pauses while it does not.
    void setLive(bool live);
    // Fetches the room now.
    void refresh();

    // From the data source, for every room; only this one's matter.
    void roomUpdated(const adminapi::RoomInfo &room, const QDateTime &serverNow);
    void roomRemoved(const QString &roomId, const QDateTime &serverNow);
    void eventsReceived(const QList<adminapi::Event> &events);
    // The server's clock moved on (the duration changes).
    void setNow(const QDateTime &serverNow);

Q_SIGNALS:
    void opened(const QString &roomId);
    // The room's state, its people or its counts changed (or the clock moved).
    void changed();
    void closed();

private:
    void onFetched(const QString &roomId, const std::optional<adminapi::RoomInfo> &room, int status,
                   const QString &error);
    void apply(adminapi::RoomInfo room);
    void introduce();
    void remember(const QList<adminapi::ParticipantInfo> &people);
    void note(const QDateTime &time, const QString &kind, const QString &text, const QString &connectionId = {});
    [[nodiscard]] QString who(const QString &connectionId, const QString &userId) const;
    [[nodiscard]] QString describe(const adminapi::Event &event) const;

    AdminClient *m_client = nullptr;
    ParticipantsModel *m_participants = nullptr;
    ParticipantsModel *m_waiting = nullptr;
    MessageCountsModel *m_messages = nullptr;
    TimelineModel *m_timeline = nullptr;
    QTimer m_refresh;
    QString m_roomId;
    std::optional<adminapi::RoomInfo> m_room;
    QHash<QString, QString> m_names; // connection id -> name, of everyone seen here
    QDateTime m_now;
    QString m_goneReason;
    QString m_fetchError;
    bool m_live = false;
    bool m_gone = false;
    bool m_fetched = false;
    bool m_introduced = false; // the timeline's first line (who was there) is written
};

} // namespace medrelay::console
