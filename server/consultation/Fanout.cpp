#include "consultation/Fanout.h"

#include "consultation/Room.h"

namespace medrelay::server {

int LocalFanout::deliver(const Room &, const QList<Peer *> &recipients, const OutboundMessage &message)
{
    for (Peer *p : recipients)
        p->send(message);
    return static_cast<int>(recipients.size());
}

} // namespace medrelay::server
