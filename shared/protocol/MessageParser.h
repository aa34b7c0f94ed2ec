#pragma once
// Turns one text frame into an Envelope: JSON is parsed exactly once here,
// the type is looked up in the kind table, and everything else is left to the
// kind's own fromJson().

#include "protocol/Messages.h"

#include <QByteArray>

namespace medrelay::protocol {

[[nodiscard]] Result<Envelope> parseEnvelope(const QByteArray &utf8);

} // namespace medrelay::protocol
