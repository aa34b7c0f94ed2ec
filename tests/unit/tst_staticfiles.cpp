// StaticFiles' path rule: which request paths name a file of the web root.
// Paths arrive percent-decoded (HttpRequestParser), so "%2e%2e" is ".." here.

#include "web/StaticFiles.h"

#include <QTest>

using namespace medrelay::server::web;
using namespace Qt::StringLiterals;

class TestStaticFiles final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void acceptedPaths_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("relative");
        QTest::addRow("root") << u"/"_s << u"index.html"_s;
        QTest::addRow("file") << u"/demo.js"_s << u"demo.js"_s;
        QTest::addRow("nested") << u"/img/logo-2.svg"_s << u"img/logo-2.svg"_s;
        QTest::addRow("dots inside") << u"/medrelay-client.d.ts"_s << u"medrelay-client.d.ts"_s;
    }
    void acceptedPaths()
    {
        QFETCH(QString, path);
        QFETCH(QString, relative);
        QCOMPARE(StaticFiles::relativePath(path), std::optional<QString>(relative));
    }

    void refusedPaths_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addRow("parent") << u"/../etc/passwd"_s;
        QTest::addRow("parent inside") << u"/img/../../etc/passwd"_s;
        QTest::addRow("decoded percent-encoded dots") << QUrl::fromPercentEncoding("/%2e%2e/%2e%2e/etc/passwd");
        QTest::addRow("current") << u"/./index.html"_s;
        QTest::addRow("hidden file") << u"/.git/config"_s;
        QTest::addRow("empty segment, absolute") << u"//etc/passwd"_s;
        QTest::addRow("trailing slash") << u"/img/"_s;
        QTest::addRow("backslash") << u"/..\\..\\etc\\passwd"_s;
        QTest::addRow("NUL") << QUrl::fromPercentEncoding("/index.html%00.js");
        QTest::addRow("control") << u"/a\nb.js"_s;
        QTest::addRow("space") << u"/a b.js"_s;
        QTest::addRow("not absolute") << u"index.html"_s;
        QTest::addRow("drive letter") << u"/C:/Windows/win.ini"_s;
        QTest::addRow("tilde") << u"/~root/.bashrc"_s;
        QTest::addRow("non-ASCII") << u"/caf\u00e9.js"_s;
        QTest::addRow("very long") << (u"/"_s + QString(2000, u'a') + u".js"_s);
        QTest::addRow("long segment") << (u"/"_s + QString(300, u'a'));
        QTest::addRow("too deep") << QString(u"/a"_s).repeated(20);
    }
    void refusedPaths()
    {
        QFETCH(QString, path);
        QCOMPARE(StaticFiles::relativePath(path), std::nullopt);
    }

    void contentTypes()
    {
        QCOMPARE(StaticFiles::contentType(u"index.html"_s), "text/html; charset=utf-8"_ba);
        QCOMPARE(StaticFiles::contentType(u"medrelay-client.js"_s), "text/javascript; charset=utf-8"_ba);
        QCOMPARE(StaticFiles::contentType(u"demo.css"_s), "text/css; charset=utf-8"_ba);
        QCOMPARE(StaticFiles::contentType(u"favicon.svg"_s), "image/svg+xml"_ba);
        // Anything else is not served at all.
        QCOMPARE(StaticFiles::contentType(u"server.key"_s), QByteArray());
        QCOMPARE(StaticFiles::contentType(u"medrelay.ini"_s), QByteArray());
        QCOMPARE(StaticFiles::contentType(u"noextension"_s), QByteArray());
    }
};

QTEST_GUILESS_MAIN(TestStaticFiles)
#include "tst_staticfiles.moc"
