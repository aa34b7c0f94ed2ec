#include "protocol/MessageKind.h"

#include <array>

namespace medrelay::protocol {
namespace {

struct KindInfo
{
    QLatin1StringView wire;
    Direction direction;
};

constexpr std::array<KindInfo, kMessageKindCount> kKinds{{
#define MEDRELAY_X(name, wire, dir) {QLatin1StringView(wire), Direction::dir},
    MEDRELAY_MESSAGE_KINDS(MEDRELAY_X)
#undef MEDRELAY_X
}};

} // namespace

QLatin1StringView wireName(MessageKind kind)
{
    return kKinds[static_cast<std::size_t>(kind)].wire;
}

Direction direction(MessageKind kind)
{
    return kKinds[static_cast<std::size_t>(kind)].direction;
}

std::optional<MessageKind> kindFromWire(QStringView wire)
{
    for (std::size_t i = 0; i < kKinds.size(); ++i) {
        if (wire == kKinds[i].wire)
            return static_cast<MessageKind>(i);
    }
    return std::nullopt;
}

std::optional<MessageKind> kindFromWire(QLatin1StringView wire)
{
    for (std::size_t i = 0; i < kKinds.size(); ++i) {
        if (wire == kKinds[i].wire)
            return static_cast<MessageKind>(i);
    }
    return std::nullopt;
}

} // namespace medrelay::protocol
