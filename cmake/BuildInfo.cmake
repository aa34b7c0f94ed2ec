# Build information for --version, fixed when CMake configures: the git
# commit (with -dirty for uncommitted changes to tracked files), the compiler
# and the Qt version built against. The version itself is project(VERSION).
# A source tree without git (a release tarball, a container build context)
# says "unknown" unless -DMEDRELAY_GIT_COMMIT=... names the commit.
set(MEDRELAY_GIT_COMMIT "" CACHE STRING "Commit to report in --version when the source tree has no git metadata")

set(MEDRELAY_BUILD_COMMIT "${MEDRELAY_GIT_COMMIT}")
if(NOT MEDRELAY_BUILD_COMMIT)
    find_package(Git QUIET)
    if(GIT_FOUND)
        execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse --short=12 HEAD
                        WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
                        OUTPUT_VARIABLE _medrelay_commit OUTPUT_STRIP_TRAILING_WHITESPACE
                        RESULT_VARIABLE _medrelay_git_rc ERROR_QUIET)
        if(_medrelay_git_rc EQUAL 0 AND _medrelay_commit)
            execute_process(COMMAND "${GIT_EXECUTABLE}" status --porcelain --untracked-files=no
                            WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
                            OUTPUT_VARIABLE _medrelay_changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
            set(MEDRELAY_BUILD_COMMIT "${_medrelay_commit}")
            if(_medrelay_changes)
                string(APPEND MEDRELAY_BUILD_COMMIT "-dirty")
            endif()
        endif()
    endif()
endif()
if(NOT MEDRELAY_BUILD_COMMIT)
    set(MEDRELAY_BUILD_COMMIT "unknown")
endif()
set(MEDRELAY_BUILD_COMPILER "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}")
set(MEDRELAY_BUILD_QT_VERSION "${Qt6_VERSION}")
