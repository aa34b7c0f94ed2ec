#pragma once
// Writes each server event (join, leave, room opened or closed, refused
// join, failed authentication, admin action) as one log record in category
// medrelay.events, with EVENT, ROOM_ID and CONNECTION_ID as fields. The
// event's free-text detail (e.g. an administrator's close reason) is left
// out: logs carry ids only.

#include "adminapi/AdminTypes.h"

#include <QObject>

namespace medrelay::logging {

class EventLogger final : public QObject
{
    Q_OBJECT
public:
    explicit EventLogger(QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(EventLogger)

    void log(const medrelay::adminapi::Event &event);
};

} // namespace medrelay::logging
