// HistoryCipher: records open only with the key and binding they were sealed
// for, any altered byte is refused, deduplication tags are keyed and bound
// to the room, and key files are accepted in exactly the documented forms.

#include "store/HistoryCipher.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using medrelay::store::HistoryCipher;
using medrelay::store::RecordBinding;

namespace {

QByteArray key(char fill)
{
    QByteArray k(32, fill);
    k[31] = 0x7f;
    return k;
}

std::unique_ptr<HistoryCipher> cipherFor(const QByteArray &k)
{
    QString error;
    auto c = HistoryCipher::create(k, &error);
    if (!c)
        qWarning("%s", qPrintable(error));
    return c;
}

} // namespace

class TestHistoryCipher final : public QObject
{
    Q_OBJECT

private slots:
    void roundTrip();
    void freshNonceEveryRecord();
    void bindingIsAuthenticated();
    void anyAlteredByteIsRefused();
    void otherKeyIsRefused();
    void keyIdentifier();
    void dedupTags();
    void createRefusesBadKeys();
    void parseKey_data();
    void parseKey();
    void printableRawKeyWarns();
    void loadKeyFile();

private:
    const QString m_room = u"room-1"_s;
};

void TestHistoryCipher::roundTrip()
{
    auto c = cipherFor(key('a'));
    QVERIFY(c);
    for (const QByteArray &plain : {QByteArray(), QByteArray("x"), QByteArray(300, 'p'), QByteArray(70'000, '\0')}) {
        const auto sealed = c->seal(plain, {m_room, 5, 1});
        QVERIFY(sealed);
        QCOMPARE(sealed->size(), plain.size() + HistoryCipher::kRecordOverhead);
        if (plain.size() >= 16)
            QVERIFY(!sealed->contains(plain.first(16)));
        const auto opened = c->open(*sealed, {m_room, 5, 1});
        QVERIFY(opened);
        QCOMPARE(*opened, plain);
    }
}

void TestHistoryCipher::freshNonceEveryRecord()
{
    auto c = cipherFor(key('a'));
    QVERIFY(c);
    const auto a = c->seal("same text", {m_room, 1, 1});
    const auto b = c->seal("same text", {m_room, 1, 1});
    QVERIFY(a && b);
    QVERIFY(*a != *b);
    QVERIFY(a->first(HistoryCipher::kNonceBytes) != b->first(HistoryCipher::kNonceBytes));
}

void TestHistoryCipher::bindingIsAuthenticated()
{
    auto c = cipherFor(key('a'));
    QVERIFY(c);
    const auto sealed = c->seal("hello", {m_room, 7, 1});
    QVERIFY(sealed);
    QVERIFY(c->open(*sealed, {m_room, 7, 1}));
    QVERIFY(!c->open(*sealed, {u"room-2", 7, 1}));
    QVERIFY(!c->open(*sealed, {u"room-1 ", 7, 1}));
    QVERIFY(!c->open(*sealed, {m_room, 8, 1}));
    QVERIFY(!c->open(*sealed, {m_room, 7 + (qint64(1) << 32), 1}));
    QVERIFY(!c->open(*sealed, {m_room, 7, 2}));
    QVERIFY(!c->open(*sealed, {m_room, 7, HistoryCipher::kEndedByClass}));
}

void TestHistoryCipher::anyAlteredByteIsRefused()
{
    auto c = cipherFor(key('a'));
    QVERIFY(c);
    const auto sealed = c->seal("a message of some length", {m_room, 1, 1});
    QVERIFY(sealed);
    for (qsizetype i = 0; i < sealed->size(); ++i) {
        QByteArray bad = *sealed;
        bad[i] = char(bad[i] ^ 0x20);
        QVERIFY2(!c->open(bad, {m_room, 1, 1}), qPrintable(u"byte %1"_s.arg(i)));
    }
    QVERIFY(!c->open(sealed->chopped(1), {m_room, 1, 1}));
    QVERIFY(!c->open(*sealed + 'x', {m_room, 1, 1}));
    QVERIFY(!c->open(sealed->first(HistoryCipher::kRecordOverhead - 1), {m_room, 1, 1}));
    QVERIFY(!c->open(QByteArray(), {m_room, 1, 1}));
}

void TestHistoryCipher::otherKeyIsRefused()
{
    auto a = cipherFor(key('a'));
    auto b = cipherFor(key('b'));
    QVERIFY(a && b);
    const auto sealed = a->seal("hello", {m_room, 1, 1});
    QVERIFY(sealed);
    QVERIFY(!b->open(*sealed, {m_room, 1, 1}));
}

void TestHistoryCipher::keyIdentifier()
{
    auto a1 = cipherFor(key('a'));
    auto a2 = cipherFor(key('a'));
    auto b = cipherFor(key('b'));
    QVERIFY(a1 && a2 && b);
    QCOMPARE(a1->keyId().size(), 32);
    QCOMPARE(a1->keyId(), a2->keyId());
    QVERIFY(a1->keyId() != b->keyId());
    QVERIFY(a1->keyId() != key('a'));
}

void TestHistoryCipher::dedupTags()
{
    auto a1 = cipherFor(key('a'));
    auto a2 = cipherFor(key('a'));
    auto b = cipherFor(key('b'));
    QVERIFY(a1 && a2 && b);
    const QByteArray tag = a1->dedupTag(m_room, "user|msg-1");
    QCOMPARE(tag.size(), HistoryCipher::kDedupTagBytes);
    QCOMPARE(a1->dedupTag(m_room, "user|msg-1"), tag); // repeatable on one context
    QCOMPARE(a2->dedupTag(m_room, "user|msg-1"), tag);
    QVERIFY(a1->dedupTag(m_room, "user|msg-2") != tag);
    QVERIFY(a1->dedupTag(u"room-2", "user|msg-1") != tag);
    QVERIFY(b->dedupTag(m_room, "user|msg-1") != tag);
    // The room id is length-prefixed: moving bytes between room and key changes the tag.
    QVERIFY(a1->dedupTag(u"ab", "c") != a1->dedupTag(u"a", "bc"));
}

void TestHistoryCipher::createRefusesBadKeys()
{
    QString error;
    QVERIFY(!HistoryCipher::create(QByteArray(31, 'a'), &error));
    QVERIFY(error.contains("32"_L1));
    QVERIFY(!HistoryCipher::create(QByteArray(), &error));
}

void TestHistoryCipher::parseKey_data()
{
    QTest::addColumn<QByteArray>("contents");
    QTest::addColumn<bool>("accepted");

    QByteArray raw(32, '\0');
    for (int i = 0; i < 32; ++i)
        raw[i] = char(i * 7 + 3);
    QByteArray rawWithSpace = raw;
    rawWithSpace[0] = '\n'; // raw bytes are taken as they are, whitespace or not
    rawWithSpace[31] = ' ';
    QTest::newRow("raw") << raw << true;
    QTest::newRow("raw with whitespace bytes") << rawWithSpace << true;
    QTest::newRow("hex") << raw.toHex() << true;
    QTest::newRow("hex upper with newline") << raw.toHex().toUpper() + "\n" << true;
    QTest::newRow("hex surrounded") << "  \t" + raw.toHex() + " \r\n" << true;
    QTest::newRow("base64") << raw.toBase64() << true;
    QTest::newRow("base64 with newline") << raw.toBase64() + "\n" << true;
    QTest::newRow("base64 unpadded") << raw.toBase64(QByteArray::OmitTrailingEquals) << true;

    QTest::newRow("empty") << QByteArray() << false;
    QTest::newRow("whitespace") << QByteArray("  \n") << false;
    QTest::newRow("31 raw bytes") << raw.first(31) << false;
    QTest::newRow("33 raw bytes") << raw + 'x' << false;
    QTest::newRow("raw plus newline") << raw + '\n' << false;
    QTest::newRow("hex 62") << raw.first(31).toHex() << false;
    QTest::newRow("hex 66") << raw.toHex() + "ab" << false;
    QTest::newRow("hex bad char") << raw.toHex().replace(10, 1, "g") << false;
    QTest::newRow("hex inner space") << raw.toHex().insert(32, ' ') << false;
    QTest::newRow("base64 of 31") << raw.first(31).toBase64() << false;
    QTest::newRow("base64 of 33") << (raw + 'x').toBase64() << false;
    QTest::newRow("base64 bad char") << raw.toBase64().replace(5, 1, "*") << false;
    QTest::newRow("passphrase") << QByteArray("correct horse battery staple\n") << false;
    QTest::newRow("all zero raw") << QByteArray(32, '\0') << false;
    QTest::newRow("all zero hex") << QByteArray(64, '0') << false;
}

void TestHistoryCipher::parseKey()
{
    QFETCH(QByteArray, contents);
    QFETCH(bool, accepted);
    const HistoryCipher::LoadedKey k = HistoryCipher::parseKey(contents);
    if (accepted) {
        QVERIFY2(k.error.isEmpty(), qPrintable(k.error));
        QVERIFY(k.warning.isEmpty());
        QCOMPARE(k.key.size(), 32);
        QByteArray raw(32, '\0');
        for (int i = 0; i < 32; ++i)
            raw[i] = char(i * 7 + 3);
        if (contents.size() != 32)
            QCOMPARE(k.key, raw);
    } else {
        QVERIFY(k.key.isEmpty());
        QVERIFY(!k.error.isEmpty());
    }
}

void TestHistoryCipher::printableRawKeyWarns()
{
    // 16 random bytes in hex: 32 characters, accepted as 32 raw bytes, but weak.
    const HistoryCipher::LoadedKey k = HistoryCipher::parseKey("0123456789abcdef0123456789abcdef");
    QVERIFY(k.error.isEmpty());
    QCOMPARE(k.key, QByteArray("0123456789abcdef0123456789abcdef"));
    QVERIFY(k.warning.contains("printable"_L1));
}

void TestHistoryCipher::loadKeyFile()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"history.key"_s);

    HistoryCipher::LoadedKey k = HistoryCipher::loadKeyFile(path);
    QVERIFY(k.key.isEmpty());
    QVERIFY(k.error.contains(path));

    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(key('s').toHex() + '\n');
    f.close();
    QVERIFY(QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner));
    k = HistoryCipher::loadKeyFile(path);
    QVERIFY2(k.error.isEmpty(), qPrintable(k.error));
    QCOMPARE(k.key, key('s'));
    QVERIFY(k.warning.isEmpty());

    QVERIFY(QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther));
    k = HistoryCipher::loadKeyFile(path);
    QCOMPARE(k.key, key('s')); // usable, with a warning
    QVERIFY(k.warning.contains("0644"_L1));

    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write("not a key\n");
    f.close();
    k = HistoryCipher::loadKeyFile(path);
    QVERIFY(k.key.isEmpty());
    QVERIFY(k.error.contains(path));
    QVERIFY(k.error.contains("64 hex characters"_L1));

    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(QByteArray(10'000, 'a'));
    f.close();
    k = HistoryCipher::loadKeyFile(path);
    QVERIFY(k.error.contains("too large"_L1));
}

QTEST_GUILESS_MAIN(TestHistoryCipher)
#include "tst_historycipher.moc"
