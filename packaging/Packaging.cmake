# Install layout beyond the binaries, and the Debian packages (CPack), included at the end of the
# top-level CMakeLists.txt.
#
#   make package            builds build/vitals_<version>_<arch>.deb and build/vitals-dev_<version>_all.deb
#   cpack -G DEB --config build/CPackConfig.cmake -B <dir>      the same, into <dir>
#
# Packages (component groups, one .deb each):
#   vitals      components daemon (/usr/bin/vitals), plugins (/usr/lib/vitals/plugins/*.so),
#               system (/etc/vitals/vitals.json as a conffile, /lib/systemd/system/vitals.service)
#               and doc (/usr/share/doc/vitals: README, docs/*.md, example configurations).
#               Depends computed by dpkg-shlibdeps, plus adduser for the postinst.
#   vitals-dev  component sdk: the plugin SDK headers (/usr/include/vitals) and its CMake package
#               (/usr/lib/cmake/vitals-sdk), Architecture: all (header-only). Separate because a
#               host running checks needs no headers, and a plugin author's build machine needs no
#               daemon. docs/plugins.md says how to use it.
#
# The daemon looks for its plugins in <dir of the executable>/../lib/vitals/plugins, so the plugins'
# install rule (${CMAKE_INSTALL_LIBDIR}/vitals/plugins) must resolve to lib/vitals/plugins:
# /usr/bin/vitals -> /usr/lib/vitals/plugins. GNUInstallDirs picks lib/<multiarch> on Debian only
# when CMAKE_INSTALL_PREFIX is /usr at configure time; the default prefix (/usr/local) gives "lib",
# and CPack then relocates everything under /usr (CPACK_PACKAGING_INSTALL_PREFIX).
include_guard(GLOBAL)

set(VITALS_PACKAGING_DIR ${CMAKE_CURRENT_LIST_DIR})

if(NOT CMAKE_INSTALL_LIBDIR STREQUAL "lib")
  message(WARNING "CMAKE_INSTALL_LIBDIR is '${CMAKE_INSTALL_LIBDIR}': plugins will install to "
    "${CMAKE_INSTALL_LIBDIR}/vitals/plugins, but the daemon looks in <bindir>/../lib/vitals/plugins. "
    "Configure with -DCMAKE_INSTALL_LIBDIR=lib (packages and the Dockerfile do).")
endif()

# --- system integration: absolute paths, only for the .deb -----------------------------------------
# EXCLUDE_FROM_ALL: a plain `cmake --install build --prefix ~/x` never writes /etc or /lib; CPack
# (which installs component by component) and `cmake --install build --component system` do.
install(FILES ${VITALS_PACKAGING_DIR}/vitals.json
  DESTINATION /etc/vitals
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
  COMPONENT system EXCLUDE_FROM_ALL)
install(FILES ${VITALS_PACKAGING_DIR}/systemd/vitals.service
  DESTINATION /lib/systemd/system
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
  COMPONENT system EXCLUDE_FROM_ALL)

# --- documentation and examples ---------------------------------------------------------------------
# The Debian changelog and the manual page, compressed as Debian wants them (gzip -9n: no name, no
# time stamp, so the same source gives the same bytes). configure_file makes CMake re-run this when
# the sources change.
set(_gen ${CMAKE_BINARY_DIR}/packaging)
configure_file(${VITALS_PACKAGING_DIR}/debian/changelog.in ${_gen}/changelog @ONLY)
configure_file(${VITALS_PACKAGING_DIR}/vitals.1 ${_gen}/vitals.1 @ONLY)
find_program(VITALS_GZIP gzip REQUIRED)
foreach(_f changelog vitals.1)
  execute_process(COMMAND ${VITALS_GZIP} -9nc ${_gen}/${_f} OUTPUT_FILE ${_gen}/${_f}.gz
    RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "gzip ${_gen}/${_f} failed")
  endif()
endforeach()

set(VITALS_DOC_DIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/vitals)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${VITALS_PACKAGING_DIR}/debian/copyright ${_gen}/changelog.gz
  DESTINATION ${VITALS_DOC_DIR} COMPONENT doc)
install(FILES ${_gen}/vitals.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT doc)
# docs/*.md (the plugin guide, the configuration reference, ...), whatever is there at install time.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${VITALS_DOC_DIR} COMPONENT doc
  FILES_MATCHING PATTERN "*.md" PATTERN "examples" EXCLUDE)
# examples/vitals.json is the packaged /etc/vitals/vitals.json (pristine, to diff against);
# examples/development.json is config/vitals.json from the source tree; sidecar.json is the
# container's ECS sidecar configuration (packaging/docker/).
install(FILES ${VITALS_PACKAGING_DIR}/vitals.json DESTINATION ${VITALS_DOC_DIR}/examples COMPONENT doc)
install(FILES ${CMAKE_SOURCE_DIR}/config/vitals.json DESTINATION ${VITALS_DOC_DIR}/examples
  RENAME development.json COMPONENT doc)
install(FILES ${VITALS_PACKAGING_DIR}/docker/sidecar.json DESTINATION ${VITALS_DOC_DIR}/examples COMPONENT doc)

# vitals-dev: its copyright and the example plugin of docs/plugins.md.
install(FILES ${VITALS_PACKAGING_DIR}/debian/copyright ${_gen}/changelog.gz
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/vitals-dev COMPONENT sdk)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/examples/
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/vitals-dev/examples COMPONENT sdk
  PATTERN "build" EXCLUDE)

# --- CPack: Debian packages ----------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vitals)
set(CPACK_PACKAGE_VENDOR "vitals")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "vitals maintainers <vitals@example.org>")
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPackDeb would prepend it to every package's description; each
# CPACK_DEBIAN_<GROUP>_DESCRIPTION below starts with its own summary line.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_COMPONENTS_ALL daemon plugins system doc sdk)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)        # <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)           # dpkg-shlibdeps (dpkg-dev) computes Depends
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)   # maintainer scripts 0755, conffiles 0644

# The vitals package (group "runtime").
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME vitals)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "adduser")       # merged with the shlibdeps result
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "monitoring-plugins-basic")   # for checks of type exec
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "health-check sidecar for load balancers
vitals sits beside a service (a WebSocket server, say) and answers load
balancer health checks on its own port. It loads check plugins (websocket,
redis, http, tcp, disk, exec, grpc, tls), runs every check in the background,
combines the results under a policy (impact, groups, quorum, drain) and
answers GET /health from memory with 200/503 and an application/health+json
body.
Recent results are kept in SQLite; metrics are served for Prometheus.")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
  ${VITALS_PACKAGING_DIR}/debian/conffiles
  ${VITALS_PACKAGING_DIR}/debian/postinst
  ${VITALS_PACKAGING_DIR}/debian/prerm
  ${VITALS_PACKAGING_DIR}/debian/postrm)

# The vitals-dev package (group "dev"): header-only, so one package serves every architecture.
set(CPACK_DEBIAN_DEV_PACKAGE_NAME vitals-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "")
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "cmake, g++")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "vitals")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "vitals plugin SDK: headers and CMake package
The C ABI (vitals/plugin.h), the header-only C++ layer (vitals/plugin.hpp)
and the CMake package: find_package(vitals-sdk) and vitals_add_plugin()
build a check plugin out of tree. The plugins load into the vitals daemon.")

include(CPack)

cpack_add_component_group(runtime DISPLAY_NAME "vitals" DESCRIPTION "the daemon, its plugins, configuration and unit")
cpack_add_component_group(dev DISPLAY_NAME "vitals-dev" DESCRIPTION "the plugin SDK")
cpack_add_component(daemon GROUP runtime)
cpack_add_component(plugins GROUP runtime)
cpack_add_component(system GROUP runtime)
cpack_add_component(doc GROUP runtime)
cpack_add_component(sdk GROUP dev)

# --- docs/config-reference.md ------------------------------------------------------------------------
# `make docs` (cmake --build build --target docs) regenerates it from the option schemas of the
# plugins in build/plugins: `vitals plugins --markdown`, which tests/integration/test_docs.py compares
# with the committed file. It depends on the daemon and on every built-in plugin, whatever plugins/
# holds (the targets of its subdirectories), so it always documents the full set.
add_custom_target(docs
  COMMAND ${CMAKE_COMMAND} -DVITALS=$<TARGET_FILE:vitals> -DOUTPUT=${CMAKE_SOURCE_DIR}/docs/config-reference.md
    -P ${VITALS_PACKAGING_DIR}/gen-config-reference.cmake
  COMMENT "Regenerating docs/config-reference.md (vitals plugins --markdown)"
  VERBATIM)
add_dependencies(docs vitals)
get_property(_vitals_plugin_dirs DIRECTORY ${CMAKE_SOURCE_DIR}/plugins PROPERTY SUBDIRECTORIES)
foreach(_dir IN LISTS _vitals_plugin_dirs)
  get_property(_targets DIRECTORY ${_dir} PROPERTY BUILDSYSTEM_TARGETS)
  if(_targets)
    add_dependencies(docs ${_targets})
  endif()
endforeach()
