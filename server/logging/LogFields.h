#pragma once
// Structured fields (event, room id, connection id) attached to every log
// record written on this thread while a LogScope lives. The message handler
// sends them to the journal as fields and to JSON lines as keys, so an
// operator can ask for "everything about room X" without parsing prose.
// Values are ids only: never names, chat text or other content.

#include <QList>
#include <QString>

#include <initializer_list>

namespace medrelay::logging {

enum class Field : quint8 {
    Event,        // EVENT / "event": what happened (join, leave, listening, drain_started, ...)
    RoomId,       // ROOM_ID / "room_id"
    ConnectionId, // CONNECTION_ID / "connection_id"
};

struct FieldValue
{
    Field field = Field::Event;
    QString value;
};

// The journal field name, e.g. "ROOM_ID".
[[nodiscard]] const char *journalName(Field field);
// The JSON key, e.g. "room_id".
[[nodiscard]] QString jsonName(Field field);

// Adds fields for the records logged on this thread until it is destroyed.
// Scopes nest; an inner value replaces an outer one for the same field.
// Empty values are left out.
class LogScope final
{
public:
    explicit LogScope(std::initializer_list<FieldValue> fields);
    ~LogScope();
    Q_DISABLE_COPY_MOVE(LogScope)

private:
    qsizetype m_previousSize = 0;
};

// The fields in force on this thread, one per field (innermost wins).
[[nodiscard]] QList<FieldValue> currentFields();

} // namespace medrelay::logging
