# Installers: a Debian package for the headless server (with its systemd
# unit), one for the console, and NSIS / DragNDrop packages on Windows and
# macOS. `cmake --build build --target package` (or `cpack` in build/).
include(GNUInstallDirs)

if(BUILD_SERVER AND UNIX AND NOT APPLE)
    install(FILES ${CMAKE_CURRENT_LIST_DIR}/medrelay-server.service
            DESTINATION lib/systemd/system COMPONENT server)
    install(FILES ${PROJECT_SOURCE_DIR}/resources/medrelay.ini
            DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/medrelay COMPONENT server)
endif()

set(CPACK_PACKAGE_NAME "medrelay")
set(CPACK_PACKAGE_VENDOR "medrelay")
set(CPACK_PACKAGE_CONTACT "medrelay maintainers <maintainers@medrelay.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_RESOURCE_FILE_README "${PROJECT_SOURCE_DIR}/README.md")
set(CPACK_STRIP_FILES ON)

if(WIN32)
    set(CPACK_GENERATOR "NSIS;ZIP")
    set(CPACK_NSIS_DISPLAY_NAME "medrelay")
    set(CPACK_NSIS_MODIFY_PATH ON)
elseif(APPLE)
    set(CPACK_GENERATOR "DragNDrop")
else()
    set(CPACK_GENERATOR "DEB")
    set(CPACK_DEB_COMPONENT_INSTALL ON)
    set(CPACK_COMPONENTS_GROUPING IGNORE)
    set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
    set(CPACK_DEBIAN_PACKAGE_SECTION "net")
    set(CPACK_DEBIAN_SERVER_PACKAGE_NAME "medrelay-server")
    set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")
    set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
        "${CMAKE_CURRENT_LIST_DIR}/debian/postinst;${CMAKE_CURRENT_LIST_DIR}/debian/prerm;${CMAKE_CURRENT_LIST_DIR}/debian/conffiles")
    set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_STRICT_PERMISSION ON)
    set(CPACK_DEBIAN_CONSOLE_PACKAGE_NAME "medrelay-console")
endif()
set(CPACK_COMPONENTS_ALL)
if(BUILD_SERVER)
    list(APPEND CPACK_COMPONENTS_ALL server)
endif()
if(BUILD_CONSOLE)
    list(APPEND CPACK_COMPONENTS_ALL console)
endif()
include(CPack)
