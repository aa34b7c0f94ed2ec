#include "logging/EventLogger.h"

#include "logging/LogFields.h"

#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcEvents, "medrelay.events")

namespace medrelay::logging {

using namespace Qt::StringLiterals;

EventLogger::EventLogger(QObject *parent)
    : QObject(parent)
{
}

void EventLogger::log(const adminapi::Event &event)
{
    const LogScope scope{{Field::Event, event.kind},
                         {Field::RoomId, event.roomId},
                         {Field::ConnectionId, event.connectionId}};
    QString text = event.kind;
    if (!event.roomId.isEmpty())
        text += " room="_L1 + event.roomId;
    if (!event.connectionId.isEmpty())
        text += " connection="_L1 + event.connectionId;
    qCInfo(lcEvents).noquote() << text;
}

} // namespace medrelay::logging
