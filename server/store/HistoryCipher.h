#pragma once
// The history key and what it protects: AES-256-GCM records for message
// bodies (and other personal fields) at rest, keyed HMAC-SHA256 tags for
// deduplication keys, and a key identifier stored next to the data so that a
// store opened with another key is refused instead of failing record by
// record.
//
// One 32-byte history key; three keys are derived from it with HMAC-SHA256
// over fixed labels (encryption, deduplication tags, key identifier), so no
// key is used for two purposes and the stored identifier reveals nothing
// about the others.
//
// A record is nonce (12 random bytes) || ciphertext || tag (16 bytes). Its
// additional authenticated data names the room id, seq and class it was
// written for: a record copied to another row, room or seq fails to open.
// Random 96-bit nonces stay safe for far more records than a history holds
// (NIST's limit for one key is 2^32 records).
//
// Not thread-safe: one instance belongs to one thread at a time (the SQLite
// store's thread). OpenSSL contexts are reused between calls.

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <QStringView>

#include <memory>
#include <optional>

namespace medrelay::store {

// What a record is bound to. Messages use their seq (>= 1) and class (1..3);
// other fields use seq 0 and a class of their own (see kEndedByClass).
struct RecordBinding
{
    QStringView roomId;
    qint64 seq = 0;
    quint8 cls = 0;
};

class HistoryCipher final
{
public:
    static constexpr qsizetype kKeyBytes = 32;
    static constexpr qsizetype kNonceBytes = 12;
    static constexpr qsizetype kTagBytes = 16;
    static constexpr qsizetype kRecordOverhead = kNonceBytes + kTagBytes;
    static constexpr qsizetype kDedupTagBytes = 16; // HMAC-SHA256 truncated to 128 bits
    static constexpr quint8 kEndedByClass = 0x80;   // a room's endedBy, never a message class

    struct LoadedKey
    {
        QByteArray key;  // 32 bytes when error is empty
        QString error;   // why the file was refused
        QString warning; // usable, but too widely readable, or 32 printable characters
    };

    // Reads a key file: exactly 32 raw bytes, or 64 hex characters, or base64
    // of 32 bytes, the text forms with surrounding whitespace ignored.
    // Anything else (or a key of all zero bytes) is refused with an error that
    // says what was found. A file that group or others may read or write, or
    // one of exactly 32 printable characters, is accepted with a warning.
    [[nodiscard]] static LoadedKey loadKeyFile(const QString &path);
    // The format rules of loadKeyFile on the file's bytes (no permission check).
    [[nodiscard]] static LoadedKey parseKey(QByteArrayView contents);

    // nullptr with *error set when the key is not 32 bytes or OpenSSL lacks
    // AES-256-GCM or HMAC-SHA256.
    [[nodiscard]] static std::unique_ptr<HistoryCipher> create(QByteArrayView key, QString *error);

    ~HistoryCipher();
    Q_DISABLE_COPY_MOVE(HistoryCipher)

    // Encrypts with a fresh random nonce; nullopt only when OpenSSL fails.
    [[nodiscard]] std::optional<QByteArray> seal(QByteArrayView plaintext, const RecordBinding &binding);
    // Decrypts and authenticates; nullopt when the record is malformed,
    // altered, or was written for another binding or key.
    [[nodiscard]] std::optional<QByteArray> open(QByteArrayView record, const RecordBinding &binding);

    // Keyed tag of a deduplication key within one room (kDedupTagBytes).
    // The same key in two rooms gives unrelated tags.
    [[nodiscard]] QByteArray dedupTag(QStringView roomId, QByteArrayView dedupKey);

    // Identifies the key without revealing it (32 bytes).
    [[nodiscard]] QByteArray keyId() const { return m_keyId; }

private:
    struct OpenSsl;
    HistoryCipher();

    std::unique_ptr<OpenSsl> m_ssl;
    QByteArray m_keyId;
    QByteArray m_aad; // reused buffer
};

} // namespace medrelay::store
