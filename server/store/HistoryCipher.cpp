#include "store/HistoryCipher.h"

#include <QFile>
#include <QStringList>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace medrelay::store {

using namespace Qt::StringLiterals;

namespace {

constexpr qsizetype kMaxKeyFileBytes = 4096; // every accepted form is under 100 bytes
constexpr char kEncryptionLabel[] = "medrelay history v1 encryption";
constexpr char kDedupLabel[] = "medrelay history v1 deduplication";
constexpr char kKeyIdLabel[] = "medrelay history v1 key id";
constexpr char kAadMagic[] = "MRH1";

const auto *bytes(QByteArrayView v)
{
    return reinterpret_cast<const unsigned char *>(v.data());
}

auto *bytes(QByteArray &v)
{
    return reinterpret_cast<unsigned char *>(v.data());
}

bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool isHex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// HMAC-SHA256(key, label): the derived keys and the key identifier.
QByteArray hmacLabel(QByteArrayView key, const char *label)
{
    QByteArray out(32, '\0');
    size_t outLen = 0;
    const void *mac = EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), size_t(key.size()),
                                bytes(QByteArrayView(label)), std::strlen(label), bytes(out), size_t(out.size()),
                                &outLen);
    if (mac == nullptr || outLen != 32)
        return {};
    return out;
}

void wipe(QByteArray &secret)
{
    if (!secret.isEmpty())
        OPENSSL_cleanse(secret.data(), size_t(secret.size()));
}

} // namespace

struct HistoryCipher::OpenSsl
{
    EVP_CIPHER *aes = nullptr;
    EVP_CIPHER_CTX *encrypt = nullptr;
    EVP_CIPHER_CTX *decrypt = nullptr;
    EVP_MAC *hmac = nullptr;
    EVP_MAC_CTX *dedup = nullptr;

    ~OpenSsl()
    {
        EVP_MAC_CTX_free(dedup);
        EVP_MAC_free(hmac);
        EVP_CIPHER_CTX_free(decrypt);
        EVP_CIPHER_CTX_free(encrypt);
        EVP_CIPHER_free(aes);
    }
};

HistoryCipher::HistoryCipher() : m_ssl(std::make_unique<OpenSsl>()) {}

HistoryCipher::~HistoryCipher()
{
    wipe(m_aad);
}

HistoryCipher::LoadedKey HistoryCipher::parseKey(QByteArrayView contents)
{
    LoadedKey out;
    if (contents.size() == kKeyBytes) {
        out.key = contents.toByteArray();
        // Likely `openssl rand -hex 16` or a typed word without a newline:
        // valid, but much weaker than it looks.
        if (std::all_of(contents.begin(), contents.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
            out.warning = u"the history key file holds 32 printable characters, taken as 32 raw bytes; a random"
                          " key is `head -c 32 /dev/urandom` or `openssl rand -hex 32`"_s;
        }
    } else {
        qsizetype begin = 0;
        qsizetype end = contents.size();
        while (begin < end && isSpace(contents[begin]))
            ++begin;
        while (end > begin && isSpace(contents[end - 1]))
            --end;
        const QByteArrayView text = contents.sliced(begin, end - begin);
        const bool allHex = std::all_of(text.begin(), text.end(), isHex);
        if (text.size() == 2 * kKeyBytes && allHex) {
            out.key = QByteArray::fromHex(text.toByteArray());
        } else if (!text.isEmpty()) {
            const auto decoded = QByteArray::fromBase64Encoding(text.toByteArray(),
                                                                QByteArray::AbortOnBase64DecodingErrors);
            if (decoded && decoded.decoded.size() == kKeyBytes)
                out.key = decoded.decoded;
        }
        if (out.key.isEmpty()) {
            const QString trimmed = text.size() != contents.size()
                ? u", %1 without surrounding whitespace"_s.arg(text.size())
                : QString();
            out.error = u"the history key must be 32 raw bytes, 64 hex characters or base64 of 32 bytes"
                        " (found %1 bytes%2)"_s.arg(contents.size())
                            .arg(trimmed);
            return out;
        }
    }
    if (std::all_of(out.key.cbegin(), out.key.cend(), [](char c) { return c == '\0'; })) {
        wipe(out.key);
        out.key.clear();
        out.error = u"the history key is all zero bytes; make one with `head -c 32 /dev/urandom`"_s;
    }
    return out;
}

HistoryCipher::LoadedKey HistoryCipher::loadKeyFile(const QString &path)
{
    LoadedKey out;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        out.error = u"cannot read history key file '%1': %2"_s.arg(path, file.errorString());
        return out;
    }
    QByteArray contents = file.read(kMaxKeyFileBytes + 1);
    if (contents.size() > kMaxKeyFileBytes) {
        wipe(contents);
        out.error = u"history key file '%1' is too large to be a key (over %2 bytes)"_s.arg(path).arg(kMaxKeyFileBytes);
        return out;
    }
    out = parseKey(contents);
    wipe(contents);
    if (!out.error.isEmpty()) {
        out.error = u"history key file '%1': %2"_s.arg(path, out.error);
        return out;
    }
    QStringList warnings;
    if (!out.warning.isEmpty())
        warnings.append(u"history key file '%1': %2"_s.arg(path, out.warning));
    struct stat st = {};
    if (::fstat(file.handle(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        warnings.append(u"history key file '%1' is accessible to group or others (mode %2); chmod 0600 it"_s
                            .arg(path)
                            .arg(st.st_mode & 07777, 4, 8, QLatin1Char('0')));
    }
    out.warning = warnings.join(u"; "_s);
    return out;
}

std::unique_ptr<HistoryCipher> HistoryCipher::create(QByteArrayView key, QString *error)
{
    if (key.size() != kKeyBytes) {
        if (error)
            *error = u"the history key must be %1 bytes"_s.arg(kKeyBytes);
        return nullptr;
    }
    std::unique_ptr<HistoryCipher> cipher(new HistoryCipher());
    OpenSsl &s = *cipher->m_ssl;
    QByteArray encKey = hmacLabel(key, kEncryptionLabel);
    QByteArray macKey = hmacLabel(key, kDedupLabel);
    cipher->m_keyId = hmacLabel(key, kKeyIdLabel);

    OSSL_PARAM digest[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char *>("SHA256"), 0),
                           OSSL_PARAM_construct_end()};
    s.aes = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    s.encrypt = EVP_CIPHER_CTX_new();
    s.decrypt = EVP_CIPHER_CTX_new();
    s.hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    s.dedup = s.hmac ? EVP_MAC_CTX_new(s.hmac) : nullptr;
    const bool ready = encKey.size() == 32 && macKey.size() == 32 && cipher->m_keyId.size() == 32 && s.aes
        && s.encrypt && s.decrypt && s.dedup
        && EVP_EncryptInit_ex2(s.encrypt, s.aes, bytes(encKey), nullptr, nullptr) == 1
        && EVP_DecryptInit_ex2(s.decrypt, s.aes, bytes(encKey), nullptr, nullptr) == 1
        && EVP_MAC_init(s.dedup, bytes(macKey), size_t(macKey.size()), digest) == 1;
    wipe(encKey);
    wipe(macKey);
    if (!ready) {
        if (error) {
            *error = u"OpenSSL cannot provide AES-256-GCM and HMAC-SHA256: %1"_s.arg(
                QString::fromLatin1(ERR_error_string(ERR_get_error(), nullptr)));
        }
        return nullptr;
    }
    return cipher;
}

namespace {

void buildAad(QByteArray &aad, const RecordBinding &b)
{
    aad.clear();
    aad.append(kAadMagic, 4);
    aad.append(char(b.cls));
    for (int shift = 56; shift >= 0; shift -= 8)
        aad.append(char((quint64(b.seq) >> shift) & 0xff));
    aad.append(b.roomId.toUtf8());
}

} // namespace

std::optional<QByteArray> HistoryCipher::seal(QByteArrayView plaintext, const RecordBinding &binding)
{
    EVP_CIPHER_CTX *ctx = m_ssl->encrypt;
    QByteArray record(kNonceBytes + plaintext.size() + kTagBytes, Qt::Uninitialized);
    unsigned char *nonce = bytes(record);
    unsigned char *cipherText = nonce + kNonceBytes;
    buildAad(m_aad, binding);
    int len = 0;
    int finalLen = 0;
    if (RAND_bytes(nonce, int(kNonceBytes)) != 1 || EVP_EncryptInit_ex2(ctx, nullptr, nullptr, nonce, nullptr) != 1
        || EVP_EncryptUpdate(ctx, nullptr, &len, bytes(QByteArrayView(m_aad)), int(m_aad.size())) != 1
        || EVP_EncryptUpdate(ctx, cipherText, &len, bytes(plaintext), int(plaintext.size())) != 1
        || EVP_EncryptFinal_ex(ctx, cipherText + len, &finalLen) != 1 || len + finalLen != plaintext.size()
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, int(kTagBytes), cipherText + plaintext.size()) != 1) {
        ERR_clear_error();
        return std::nullopt;
    }
    return record;
}

std::optional<QByteArray> HistoryCipher::open(QByteArrayView record, const RecordBinding &binding)
{
    if (record.size() < kRecordOverhead)
        return std::nullopt;
    EVP_CIPHER_CTX *ctx = m_ssl->decrypt;
    const qsizetype textLen = record.size() - kRecordOverhead;
    const unsigned char *nonce = bytes(record);
    const unsigned char *cipherText = nonce + kNonceBytes;
    std::array<unsigned char, kTagBytes> tag = {};
    std::memcpy(tag.data(), cipherText + textLen, kTagBytes);
    QByteArray plain(textLen, Qt::Uninitialized);
    buildAad(m_aad, binding);
    int len = 0;
    int finalLen = 0;
    if (EVP_DecryptInit_ex2(ctx, nullptr, nullptr, nonce, nullptr) != 1
        || EVP_DecryptUpdate(ctx, nullptr, &len, bytes(QByteArrayView(m_aad)), int(m_aad.size())) != 1
        || EVP_DecryptUpdate(ctx, bytes(plain), &len, cipherText, int(textLen)) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, int(kTagBytes), tag.data()) != 1
        || EVP_DecryptFinal_ex(ctx, bytes(plain) + len, &finalLen) != 1 || len + finalLen != textLen) {
        // Never hand back a partly decrypted, unauthenticated buffer.
        wipe(plain);
        ERR_clear_error();
        return std::nullopt;
    }
    return plain;
}

QByteArray HistoryCipher::dedupTag(QStringView roomId, QByteArrayView dedupKey)
{
    EVP_MAC_CTX *ctx = m_ssl->dedup;
    const QByteArray room = roomId.toUtf8();
    // Length-prefixed room id, so ("ab", "c") and ("a", "bc") differ.
    const quint32 roomLen = quint32(room.size());
    const std::array<unsigned char, 4> prefix = {static_cast<unsigned char>(roomLen >> 24),
                                                 static_cast<unsigned char>(roomLen >> 16),
                                                 static_cast<unsigned char>(roomLen >> 8),
                                                 static_cast<unsigned char>(roomLen)};
    std::array<unsigned char, 32> mac = {};
    size_t macLen = 0;
    // A null key re-initialises with the key set in create().
    if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1 || EVP_MAC_update(ctx, prefix.data(), prefix.size()) != 1
        || EVP_MAC_update(ctx, bytes(QByteArrayView(room)), size_t(room.size())) != 1
        || EVP_MAC_update(ctx, bytes(dedupKey), size_t(dedupKey.size())) != 1
        || EVP_MAC_final(ctx, mac.data(), &macLen, mac.size()) != 1 || macLen != mac.size()) {
        ERR_clear_error();
        return {};
    }
    return QByteArray(reinterpret_cast<const char *>(mac.data()), kDedupTagBytes);
}

} // namespace medrelay::store
