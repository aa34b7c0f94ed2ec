// Fuzzes the client protocol edge: parseEnvelope() on one text frame, then the
// typed fromJson() of the kind it names. The same scanned object is also fed
// to every kind's fromJson(), and the JSON to every admin API type, so the
// validators get inputs whose "type" does not match. Invariants: nothing
// crashes; the scanner accepts nothing Qt's JSON parser rejects, and reads
// the same keys, types and strings; a rewritten object (fields cut out,
// others added) is valid JSON again; an admin value that parsed also parses
// again from its own toJson().

#include "adminapi/AdminTypes.h"
#include "protocol/MessageParser.h"
#include "protocol/Messages.h"

#include <QJsonDocument>

#include <cstddef>
#include <cstdint>

using namespace medrelay;

namespace {

void typed(protocol::MessageKind kind, const protocol::JsonObjectView &o)
{
    using protocol::MessageKind;
    switch (kind) {
    case MessageKind::UserJoined: (void)protocol::JoinRoom::fromJson(kind, o); break;
    case MessageKind::UserLeft: (void)protocol::LeaveRoom::fromJson(kind, o); break;
    case MessageKind::Offer:
    case MessageKind::Answer:
    case MessageKind::IceCandidate:
    case MessageKind::ChatMessage:
    case MessageKind::WhiteboardUpdate:
    case MessageKind::WhiteboardClear: {
        const auto r = protocol::RoomMessage::fromJson(kind, o);
        if (r.ok() && r.value().roomId.isEmpty())
            __builtin_trap(); // a relayed message always names its room
        break;
    }
    case MessageKind::Auth: (void)protocol::AuthMessage::fromJson(kind, o); break;
    case MessageKind::RoomSettings: (void)protocol::RoomSettings::fromJson(kind, o); break;
    case MessageKind::Admit:
    case MessageKind::Deny:
    case MessageKind::RemoveParticipant: (void)protocol::ParticipantAction::fromJson(kind, o); break;
    case MessageKind::EndConsultation: (void)protocol::EndConsultation::fromJson(kind, o); break;
    default: break; // server-to-client kinds
    }
}

template<typename T>
void roundTrip(const QJsonObject &o)
{
    if (const auto v = T::fromJson(o)) {
        if (!T::fromJson(v->toJson()))
            __builtin_trap();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // fromRawData: no copy, no terminating NUL, so ASan sees any over-read.
    const QByteArray frame = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));

    const auto env = protocol::parseEnvelope(frame);
    if (env.ok()) {
        if (protocol::direction(env.value().kind) != protocol::Direction::ClientToServer)
            __builtin_trap(); // server-only kinds must never be accepted from a client
        typed(env.value().kind, env.value().json);
    }

    const QJsonDocument doc = QJsonDocument::fromJson(frame);
    protocol::JsonObjectView view;
    const bool scanned = !protocol::JsonObjectView::scan(frame, view);
    if (scanned) {
        // Stricter than Qt, never looser, and reading the same thing.
        if (!doc.isObject())
            __builtin_trap();
        const QJsonObject qt = doc.object();
        if (qt.size() != view.members().size())
            __builtin_trap();
        // Lone surrogates have no UTF-8 form: the scanner reads them as
        // U+FFFD, Qt keeps them. Compare only documents without them in keys.
        bool loneSurrogateKey = false;
        for (const QString &k : qt.keys())
            loneSurrogateKey = loneSurrogateKey || !k.isValidUtf16();
        for (const protocol::JsonMember &m : view.members()) {
            if (loneSurrogateKey)
                break;
            const QString key = view.key(m);
            if (!qt.contains(key))
                __builtin_trap();
            const QJsonValue v = qt.value(key);
            const bool sameType = (m.type == protocol::JsonType::String && v.isString())
                || (m.type == protocol::JsonType::Number && v.isDouble())
                || (m.type == protocol::JsonType::Object && v.isObject())
                || (m.type == protocol::JsonType::Array && v.isArray())
                || (m.type == protocol::JsonType::Null && v.isNull())
                || ((m.type == protocol::JsonType::True || m.type == protocol::JsonType::False) && v.isBool());
            if (!sameType)
                __builtin_trap();
            // Lone surrogates have no UTF-8 form; the scanner reads them as U+FFFD.
            if (m.type == protocol::JsonType::String && v.toString().isValidUtf16() && view.string(m) != v.toString())
                __builtin_trap();
            if (m.type == protocol::JsonType::String && view.stringLength(m) != v.toString().size())
                __builtin_trap();
        }
        for (int k = 0; k < protocol::kMessageKindCount; ++k)
            typed(protocol::MessageKind(k), view);
        // Cutting fields out and adding others keeps it valid JSON.
        const QByteArray rewritten = view.rewritten({QLatin1StringView("type"), QLatin1StringView("seq"), QLatin1StringView("from")},
                                                    QByteArrayView("\"seq\":1,\"from\":\"x\""));
        protocol::JsonObjectView again;
        if (protocol::JsonObjectView::scan(rewritten, again))
            __builtin_trap();
    }
    if (!doc.isObject())
        return 0;
    const QJsonObject o = doc.object();

    roundTrip<adminapi::ParticipantInfo>(o);
    roundTrip<adminapi::Health>(o);
    roundTrip<adminapi::Stats>(o);
    roundTrip<adminapi::Event>(o);
    roundTrip<adminapi::EventPage>(o);
    roundTrip<adminapi::CloseRoomRequest>(o);
    roundTrip<adminapi::CloseIdleRequest>(o);
    roundTrip<adminapi::DisconnectRequest>(o);
    roundTrip<adminapi::ActionResult>(o);
    if (const auto room = adminapi::RoomInfo::fromJson(o)) {
        if (!adminapi::RoomInfo::fromJson(room->toJson(true)))
            __builtin_trap();
    }
    (void)adminapi::Rates::fromJson(o);
    (void)adminapi::Totals::fromJson(o);
    return 0;
}
