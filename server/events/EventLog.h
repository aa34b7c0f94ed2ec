#pragma once
// A bounded ring of recent server events (joins, leaves, closes, rejections)
// for the admin console. Ids only: no names, chat, whiteboard data or SDP.

#include "adminapi/AdminTypes.h"
#include "consultation/RoomEvents.h"

#include <QList>
#include <QObject>

namespace medrelay::server {

class EventLog final : public QObject, public events::RoomEventObserver
{
    Q_OBJECT
public:
    explicit EventLog(int capacity = 1000, QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(EventLog)

    void add(const QString &kind, const QString &roomId = {}, const QString &connectionId = {},
             const QString &userId = {}, const QString &detail = {});
    // Room events, as the admin API names them.
    void roomEvent(const events::RoomEvent &event) override;
    // Events with seq >= since, oldest first, at most `limit`.
    [[nodiscard]] adminapi::EventPage since(qint64 since, int limit = 500) const;

Q_SIGNALS:
    void added(const medrelay::adminapi::Event &event);

private:
    int m_capacity = 1000;
    qint64 m_nextSeq = 1;
    QList<adminapi::Event> m_ring; // oldest first
};

} // namespace medrelay::server
