#include "logging/LogFields.h"

namespace medrelay::logging {

using namespace Qt::StringLiterals;

namespace {

// Bounded so that a long id cannot make one record arbitrarily large; ids
// are validated far below this at the protocol edge.
constexpr qsizetype kMaxValueLength = 256;

thread_local QList<FieldValue> t_fields;

} // namespace

const char *journalName(Field field)
{
    switch (field) {
    case Field::Event:
        return "EVENT";
    case Field::RoomId:
        return "ROOM_ID";
    case Field::ConnectionId:
        return "CONNECTION_ID";
    }
    return "EVENT";
}

QString jsonName(Field field)
{
    switch (field) {
    case Field::Event:
        return u"event"_s;
    case Field::RoomId:
        return u"room_id"_s;
    case Field::ConnectionId:
        return u"connection_id"_s;
    }
    return u"event"_s;
}

LogScope::LogScope(std::initializer_list<FieldValue> fields)
    : m_previousSize(t_fields.size())
{
    for (const FieldValue &f : fields) {
        if (!f.value.isEmpty())
            t_fields.append({f.field, f.value.left(kMaxValueLength)});
    }
}

LogScope::~LogScope()
{
    t_fields.resize(m_previousSize);
}

QList<FieldValue> currentFields()
{
    QList<FieldValue> out;
    // Innermost first, so the first value seen for a field is the one kept.
    for (auto it = t_fields.crbegin(); it != t_fields.crend(); ++it) {
        const bool seen = std::any_of(out.cbegin(), out.cend(), [&](const FieldValue &f) { return f.field == it->field; });
        if (!seen)
            out.prepend(*it);
    }
    return out;
}

} // namespace medrelay::logging
