#include "events/EventLog.h"

namespace medrelay::server {

using namespace Qt::StringLiterals;

namespace {

QString onOff(bool b)
{
    return b ? u"on"_s : u"off"_s;
}

} // namespace

void EventLog::roomEvent(const events::RoomEvent &event)
{
    std::visit(events::Overloaded{
                   [this](const events::RoomOpened &e) { add(u"room_created"_s, e.roomId); },
                   [this](const events::RoomClosed &e) { add(u"room_closed"_s, e.roomId, {}, {}, e.reason); },
                   [this](const events::MemberJoined &e) {
                       add(u"join"_s, e.roomId, e.connectionId, e.userId, e.resumed ? u"resumed"_s : QString());
                   },
                   [this](const events::MemberLeft &e) { add(u"leave"_s, e.roomId, e.connectionId, e.userId, e.reason); },
                   [this](const events::MemberAway &e) { add(u"away"_s, e.roomId, e.connectionId, e.userId); },
                   [this](const events::GuestWaiting &e) { add(u"waiting"_s, e.roomId, e.connectionId, e.userId); },
                   [this](const events::AdmissionDecided &e) {
                       add(u"admission"_s, e.roomId, e.connectionId, e.userId, e.decision);
                   },
                   [this](const events::JoinRefused &e) {
                       add(u"join_denied"_s, e.roomId, e.connectionId, e.userId, e.code);
                   },
                   [this](const events::SettingsChanged &e) {
                       add(u"room_settings"_s, e.roomId, e.by.connectionId, e.by.userId,
                           u"waitingRoom=%1 locked=%2"_s.arg(onOff(e.waitingRoom), onOff(e.locked)));
                   },
                   [this](const events::ConsultationEnded &e) {
                       add(u"consultation_ended"_s, e.roomId, e.by.connectionId, e.by.userId, e.reason);
                   },
               },
               event);
}

EventLog::EventLog(int capacity, QObject *parent)
    : QObject(parent)
    , m_capacity(capacity)
{}

void EventLog::add(const QString &kind, const QString &roomId, const QString &connectionId,
                   const QString &userId, const QString &detail)
{
    adminapi::Event e{m_nextSeq++, QDateTime::currentDateTimeUtc(), kind, roomId, connectionId, userId, detail};
    if (m_ring.size() >= m_capacity)
        m_ring.removeFirst();
    m_ring.append(e);
    Q_EMIT added(e);
}

adminapi::EventPage EventLog::since(qint64 since, int limit) const
{
    adminapi::EventPage page;
    page.nextSeq = m_nextSeq;
    for (const adminapi::Event &e : m_ring) {
        if (e.seq < since)
            continue;
        if (page.events.size() >= limit) {
            page.nextSeq = e.seq;
            break;
        }
        page.events.append(e);
    }
    return page;
}

} // namespace medrelay::server
