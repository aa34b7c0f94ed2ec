# Installers: a Debian package for the headless server (systemd unit, default
# configuration, maintainer scripts) and one for the console (desktop entry,
# icon); NSIS on Windows and DragNDrop on macOS, made by
# .github/workflows/installers.yml. In the build directory: `cpack` (or
# `cmake --build build --target package`).
#
# The Debian packages install under MEDRELAY_PACKAGE_PREFIX (/usr), whatever
# CMAKE_INSTALL_PREFIX the build was configured with, so the normal build
# directory packages as it is. The configuration and the unit have fixed
# absolute places (/etc/medrelay, /lib/systemd/system) that the unit and the
# maintainer scripts name.
include(GNUInstallDirs)

set(MEDRELAY_PACKAGE_PREFIX "/usr" CACHE PATH "Installation prefix inside the Debian packages")
set(_medrelay_installer_dir ${CMAKE_CURRENT_LIST_DIR})

if(BUILD_SERVER AND UNIX AND NOT APPLE)
    set(MEDRELAY_PACKAGE_BINDIR "${MEDRELAY_PACKAGE_PREFIX}/bin")
    set(MEDRELAY_PACKAGE_DOCDIR "${MEDRELAY_PACKAGE_PREFIX}/share/doc/medrelay-server")
    configure_file(${_medrelay_installer_dir}/medrelay-server.service.in
                   ${PROJECT_BINARY_DIR}/installer/medrelay-server.service @ONLY)
    # Debian 12 ships units under /lib (merged /usr makes it /usr/lib too).
    install(FILES ${PROJECT_BINARY_DIR}/installer/medrelay-server.service
            DESTINATION /lib/systemd/system COMPONENT server)
    install(FILES ${PROJECT_SOURCE_DIR}/resources/medrelay.ini
            DESTINATION /etc/medrelay COMPONENT server)
    install(FILES ${PROJECT_SOURCE_DIR}/docs/INSTALL.md
            DESTINATION share/doc/medrelay-server COMPONENT server)
    install(FILES ${_medrelay_installer_dir}/nginx/medrelay.conf
            DESTINATION share/doc/medrelay-server/examples RENAME nginx-medrelay.conf COMPONENT server)
endif()

if(BUILD_SERVER AND APPLE)
    install(FILES ${_medrelay_installer_dir}/macos/org.medrelay.server.plist
                  ${_medrelay_installer_dir}/macos/medrelay.ini
            DESTINATION launchd COMPONENT server)
endif()

if(BUILD_SERVER AND WIN32)
    install(FILES ${_medrelay_installer_dir}/windows/medrelay.ini DESTINATION etc COMPONENT server)
endif()

# Windows and macOS: Qt's libraries and plugins next to the executables
# (windeployqt / macdeployqt, run by Qt's generated deploy script).
if((WIN32 OR APPLE) AND COMMAND qt_generate_deploy_app_script)
    foreach(_medrelay_target medrelay-server medrelay-console)
        if(TARGET ${_medrelay_target})
            if(_medrelay_target STREQUAL "medrelay-server")
                set(_medrelay_component server)
            else()
                set(_medrelay_component console)
            endif()
            qt_generate_deploy_app_script(TARGET ${_medrelay_target}
                                          FILENAME_VARIABLE _medrelay_deploy_script
                                          NO_UNSUPPORTED_PLATFORM_ERROR)
            install(SCRIPT ${_medrelay_deploy_script} COMPONENT ${_medrelay_component})
        endif()
    endforeach()
endif()

set(CPACK_PACKAGE_NAME "medrelay")
set(CPACK_PACKAGE_VENDOR "medrelay")
set(CPACK_PACKAGE_CONTACT "medrelay maintainers <maintainers@medrelay.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_INSTALL_DIRECTORY "medrelay")
set(CPACK_RESOURCE_FILE_README "${PROJECT_SOURCE_DIR}/README.md")
set(CPACK_STRIP_FILES ON)
# Values reach cpack exactly as written here (NSIS commands carry quotes and
# backslashes).
set(CPACK_VERBATIM_VARIABLES ON)
set(CPACK_COMPONENT_SERVER_DISPLAY_NAME "medrelay server")
set(CPACK_COMPONENT_SERVER_DESCRIPTION
    "Headless WebSocket relay for telemedicine consultations: signalling, chat and whiteboard relay, health, statistics and admin API.")
set(CPACK_COMPONENT_CONSOLE_DISPLAY_NAME "medrelay console")
set(CPACK_COMPONENT_CONSOLE_DESCRIPTION
    "Desktop administration console for a medrelay server: live rooms, participants, activity and events.")

# NSIS (Windows). Set on every platform so that `cpack -G NSIS` with Linux's
# makensis can check the installer script here; the Windows workflow makes
# the real one.
set(CPACK_NSIS_DISPLAY_NAME "medrelay")
set(CPACK_NSIS_PACKAGE_NAME "medrelay")
set(CPACK_NSIS_ENABLE_UNINSTALL_BEFORE_INSTALL ON)
set(CPACK_NSIS_MENU_LINKS "bin/medrelay-console.exe" "medrelay console")
# The server as a Windows service (LocalService, automatic start) whose
# configuration and data live under ProgramData, readable only by
# SYSTEM, Administrators and LocalService. On uninstall it is stopped (net
# stop waits for the drain) and removed; the configuration and data stay.
string(CONCAT CPACK_NSIS_EXTRA_INSTALL_COMMANDS
    "IfFileExists '$INSTDIR\\bin\\medrelay-server.exe' 0 medrelay_no_server\n"
    "SetShellVarContext all\n"
    "CreateDirectory '$APPDATA\\medrelay\\data'\n"
    "IfFileExists '$APPDATA\\medrelay\\medrelay.ini' +2 0\n"
    "CopyFiles /SILENT '$INSTDIR\\etc\\medrelay.ini' '$APPDATA\\medrelay\\medrelay.ini'\n"
    "nsExec::ExecToLog 'icacls \"$APPDATA\\medrelay\" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F *S-1-5-19:(OI)(CI)M'\n"
    "nsExec::ExecToLog 'sc.exe create medrelay-server binPath= \"\\\"$INSTDIR\\bin\\medrelay-server.exe\\\" --service --config \\\"$APPDATA\\medrelay\\medrelay.ini\\\"\" start= auto obj= \"NT AUTHORITY\\LocalService\" DisplayName= \"medrelay server\"'\n"
    "nsExec::ExecToLog 'sc.exe failure medrelay-server reset= 86400 actions= restart/5000/restart/5000//0'\n"
    "medrelay_no_server:\n")
string(CONCAT CPACK_NSIS_EXTRA_UNINSTALL_COMMANDS
    "nsExec::ExecToLog 'net.exe stop medrelay-server'\n"
    "nsExec::ExecToLog 'sc.exe delete medrelay-server'\n")

if(WIN32)
    set(CPACK_GENERATOR "NSIS")
elseif(APPLE)
    set(CPACK_GENERATOR "DragNDrop")
    set(CPACK_DMG_VOLUME_NAME "medrelay ${PROJECT_VERSION}")
else()
    set(CPACK_GENERATOR "DEB")
    set(CPACK_PACKAGING_INSTALL_PREFIX "${MEDRELAY_PACKAGE_PREFIX}")
    set(CPACK_DEB_COMPONENT_INSTALL ON)
    set(CPACK_COMPONENTS_GROUPING IGNORE)
    set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
    set(CPACK_DEBIAN_PACKAGE_SECTION "net")
    set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
    set(CPACK_DEBIAN_SERVER_PACKAGE_NAME "medrelay-server")
    # adduser: the medrelay user (postinst); procps: kill for ExecReload (SIGHUP
    # reloads the TLS certificate); Qt's SQLite driver is a plugin loaded at
    # run time (the encrypted history), which shlibdeps cannot see.
    set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser, procps, libqt6sql6-sqlite")
    set(CPACK_DEBIAN_SERVER_PACKAGE_SUGGESTS "nginx-light | nginx")
    set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
        "${_medrelay_installer_dir}/debian/postinst;${_medrelay_installer_dir}/debian/prerm;${_medrelay_installer_dir}/debian/postrm;${_medrelay_installer_dir}/debian/conffiles")
    set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_STRICT_PERMISSION ON)
    set(CPACK_DEBIAN_CONSOLE_PACKAGE_NAME "medrelay-console")
    set(CPACK_DEBIAN_CONSOLE_PACKAGE_SECTION "admin")
    set(CPACK_DEBIAN_CONSOLE_PACKAGE_RECOMMENDS "hicolor-icon-theme")
endif()
set(CPACK_COMPONENTS_ALL)
if(BUILD_SERVER)
    list(APPEND CPACK_COMPONENTS_ALL server)
endif()
if(BUILD_CONSOLE)
    list(APPEND CPACK_COMPONENTS_ALL console)
endif()
include(CPack)
