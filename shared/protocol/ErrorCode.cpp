#include "protocol/ErrorCode.h"

#include <array>

namespace medrelay::protocol {
namespace {

struct ErrorInfo
{
    QLatin1StringView wire;
    int status;
};

constexpr std::array<ErrorInfo, kErrorCodeCount> kErrors{{
#define MEDRELAY_X(name, wire, status) {QLatin1StringView(wire), status},
    MEDRELAY_ERROR_CODES(MEDRELAY_X)
#undef MEDRELAY_X
}};

} // namespace

QLatin1StringView wireName(ErrorCode code)
{
    return kErrors[static_cast<std::size_t>(code)].wire;
}

int httpStatus(ErrorCode code)
{
    return kErrors[static_cast<std::size_t>(code)].status;
}

std::optional<ErrorCode> errorFromWire(QStringView wire)
{
    for (std::size_t i = 0; i < kErrors.size(); ++i) {
        if (wire == kErrors[i].wire)
            return static_cast<ErrorCode>(i);
    }
    return std::nullopt;
}

} // namespace medrelay::protocol
