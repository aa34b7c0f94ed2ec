#pragma once
// One Redis reply as a plain value, copied out of hiredis's reply so that it
// can outlive the callback that received it. An error reply, a lost
// connection and a command never sent all come back as Type::Error.

#include <QByteArray>
#include <QList>

namespace medrelay::cluster {

struct RedisValue
{
    enum class Type : quint8 { Nil, Integer, String, Status, Error, Array };

    Type type = Type::Nil;
    qint64 integer = 0;
    QByteArray bytes;          // String, Status, Error
    QList<RedisValue> elements; // Array

    [[nodiscard]] static RedisValue error(QByteArray message)
    {
        RedisValue v;
        v.type = Type::Error;
        v.bytes = std::move(message);
        return v;
    }

    [[nodiscard]] bool isError() const { return type == Type::Error; }
    [[nodiscard]] bool isNil() const { return type == Type::Nil; }
    [[nodiscard]] bool isArray() const { return type == Type::Array; }
    // An integer reply, or a string that holds an integer; else `fallback`.
    [[nodiscard]] qint64 toInteger(qint64 fallback = 0) const
    {
        if (type == Type::Integer)
            return integer;
        if (type == Type::String || type == Type::Status) {
            bool ok = false;
            const qint64 n = bytes.toLongLong(&ok);
            return ok ? n : fallback;
        }
        return fallback;
    }
    // The element at `i` of an array, or a nil value.
    [[nodiscard]] const RedisValue &at(qsizetype i) const
    {
        static const RedisValue nil;
        return type == Type::Array && i >= 0 && i < elements.size() ? elements[i] : nil;
    }
    [[nodiscard]] qsizetype size() const { return type == Type::Array ? elements.size() : 0; }
};

} // namespace medrelay::cluster
