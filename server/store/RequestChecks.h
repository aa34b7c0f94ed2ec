#pragma once
// The input bounds every store applies before it touches its data, with the
// error texts a caller sees. Errors name no content, only what is wrong.

#include "store/HistoryStore.h"

namespace medrelay::store::checks {

inline constexpr qsizetype kMaxRoomIdChars = 256;
inline constexpr qsizetype kMaxBodyBytes = qsizetype(16) * 1024 * 1024;
inline constexpr qsizetype kMaxDedupKeyBytes = 1024;
inline constexpr int kDefaultDedupWindow = 256;

[[nodiscard]] inline QString roomIdError(const QString &roomId)
{
    using namespace Qt::StringLiterals;
    if (roomId.isEmpty())
        return u"room id is empty"_s;
    if (roomId.size() > kMaxRoomIdChars)
        return u"room id is longer than %1 characters"_s.arg(kMaxRoomIdChars);
    return {};
}

[[nodiscard]] inline bool isMessageClass(MessageClass cls)
{
    return cls == MessageClass::Chat || cls == MessageClass::Whiteboard || cls == MessageClass::WhiteboardClear;
}

[[nodiscard]] inline QString appendError(const AppendRequest &r)
{
    using namespace Qt::StringLiterals;
    if (QString e = roomIdError(r.roomId); !e.isEmpty())
        return e;
    if (!isMessageClass(r.cls))
        return u"unknown message class %1"_s.arg(int(r.cls));
    if (r.body.size() > kMaxBodyBytes)
        return u"message body is larger than %1 bytes"_s.arg(kMaxBodyBytes);
    if (r.dedupKey.size() > kMaxDedupKeyBytes)
        return u"deduplication key is longer than %1 bytes"_s.arg(kMaxDedupKeyBytes);
    return {};
}

// The deduplication window of a store with these limits.
[[nodiscard]] inline qint64 dedupWindow(const StoreLimits &limits, int configuredWindow)
{
    return std::max<qint64>(limits.maxMessagesPerRoom, std::max(configuredWindow, 1));
}

} // namespace medrelay::store::checks
