#include "service/ServiceStatus.h"

namespace medrelay::service {

using namespace Qt::StringLiterals;

QString stateName(ServiceState state)
{
    switch (state) {
    case ServiceState::Starting:
        return u"starting"_s;
    case ServiceState::Running:
        return u"running"_s;
    case ServiceState::Stopping:
        return u"stopping"_s;
    case ServiceState::Stopped:
        return u"stopped"_s;
    }
    return u"stopped"_s;
}

} // namespace medrelay::service
