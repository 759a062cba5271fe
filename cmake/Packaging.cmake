# Installation layout (cmake --install) and the Debian package (cpack).
#
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-deb && (cd build-deb && cpack -G DEB)
#
# (scripts/package.sh does exactly that).  Layout, GNUInstallDirs:
#
#   bin/flagtap                          the daemon and its tools
#   share/man/man1/flagtap.1.gz          flagtap(1)
#   share/man/man5/flagtap-rules.5.gz    flagtap-rules(5)
#   share/doc/flagtap/                   README.md, docs/*.md, rules/README.md,
#                                        examples/flagtap.conf (deploy/)
#   SYSCONFDIR/flagtap/flagtap.conf      default configuration (conffile)
#   SYSCONFDIR/flagtap/rules/            shipped rule packs and lists (conffiles)
#   FLAGTAP_SYSTEMD_UNITDIR/flagtap.service
#
# SYSCONFDIR is /etc for the /usr prefix (GNUInstallDirs' special case) and
# PREFIX/etc otherwise; the binary's default rules directory is compiled
# from the same CMAKE_INSTALL_FULL_SYSCONFDIR.  Destinations inside the
# prefix are given relative to it, so `cmake --install --prefix DIR`
# relocates them; those outside it (/etc, /lib/systemd/system for /usr) are
# absolute: stage such a build with DESTDIR, not --prefix.

include_guard(GLOBAL)

# A destination for install(): relative when FULL lies in the prefix.
function(flagtap_install_destination out full)
  string(REGEX REPLACE "/+$" "" prefix "${CMAKE_INSTALL_PREFIX}")
  string(LENGTH "${prefix}/" plen)
  string(SUBSTRING "${full}/" 0 ${plen} head)
  if(head STREQUAL "${prefix}/")
    string(SUBSTRING "${full}" ${plen} -1 rel)
    set(${out} "${rel}" PARENT_SCOPE)
  else()
    set(${out} "${full}" PARENT_SCOPE)
  endif()
endfunction()

# Debian 12 packages ship units in /lib/systemd/system (usr-merge moves
# them to /usr/lib/systemd/system only in Debian 13); a local install goes
# to PREFIX/lib/systemd/system, which systemd also searches for /usr/local.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_ft_unitdir_default "/lib/systemd/system")
else()
  set(_ft_unitdir_default "lib/systemd/system")
endif()
set(FLAGTAP_SYSTEMD_UNITDIR "${_ft_unitdir_default}" CACHE PATH
  "Where flagtap.service is installed (relative: under the prefix)")
option(FLAGTAP_INSTALL_SYSTEMD_UNIT "Install the systemd unit" ON)
set(FLAGTAP_SYSTEMD_UNIT_SOURCE
  "${PROJECT_SOURCE_DIR}/deploy/systemd/flagtap.service" CACHE FILEPATH
  "The systemd unit to install")

flagtap_install_destination(FLAGTAP_CONFDIR
  "${CMAKE_INSTALL_FULL_SYSCONFDIR}/flagtap")
set(FLAGTAP_FULL_CONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/flagtap")

# ---- the binary ------------------------------------------------------------
install(TARGETS flagtap RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# ---- configuration: the default flagtap.conf and the rule packs -----------
configure_file(packaging/flagtap.conf.in
  "${PROJECT_BINARY_DIR}/packaging/flagtap.conf" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/packaging/flagtap.conf"
  DESTINATION "${FLAGTAP_CONFDIR}")
# *.rules and their term lists (rules/lists/*.txt); the guide goes to the
# documentation, not into /etc
install(DIRECTORY rules/ DESTINATION "${FLAGTAP_CONFDIR}/rules"
  FILES_MATCHING PATTERN "*.rules" PATTERN "*.txt")

# ---- the systemd unit --------------------------------------------------------
# Installed from deploy/systemd/, with /usr/bin/flagtap, /etc/flagtap and
# /usr/share/doc/flagtap rewritten for other prefixes (a no-op for /usr).
if(FLAGTAP_INSTALL_SYSTEMD_UNIT)
  if(EXISTS "${FLAGTAP_SYSTEMD_UNIT_SOURCE}")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
      "${FLAGTAP_SYSTEMD_UNIT_SOURCE}")
    file(READ "${FLAGTAP_SYSTEMD_UNIT_SOURCE}" _ft_unit)
    string(REPLACE "/usr/share/doc/flagtap" "${CMAKE_INSTALL_FULL_DOCDIR}"
      _ft_unit "${_ft_unit}")
    string(REPLACE "/usr/bin/flagtap" "${CMAKE_INSTALL_FULL_BINDIR}/flagtap"
      _ft_unit "${_ft_unit}")
    string(REPLACE "/etc/flagtap" "${FLAGTAP_FULL_CONFDIR}"
      _ft_unit "${_ft_unit}")
    file(CONFIGURE OUTPUT "${PROJECT_BINARY_DIR}/packaging/flagtap.service"
      CONTENT "${_ft_unit}")
    install(FILES "${PROJECT_BINARY_DIR}/packaging/flagtap.service"
      DESTINATION "${FLAGTAP_SYSTEMD_UNITDIR}")
  else()
    message(WARNING "${FLAGTAP_SYSTEMD_UNIT_SOURCE} does not exist: the "
      "systemd unit is not installed (set FLAGTAP_SYSTEMD_UNIT_SOURCE, or "
      "FLAGTAP_INSTALL_SYSTEMD_UNIT=OFF)")
  endif()
endif()

# ---- manual pages, gzipped as Debian policy wants ---------------------------
find_program(FLAGTAP_GZIP gzip)
foreach(_ft_man flagtap.1 flagtap-rules.5)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" _ft_sect "${_ft_man}")
  set(_ft_src "${PROJECT_SOURCE_DIR}/man/${_ft_man}")
  if(FLAGTAP_GZIP)
    set(_ft_out "${PROJECT_BINARY_DIR}/man/${_ft_man}.gz")
    # -n: no name or time stamp in the header (reproducible)
    add_custom_command(OUTPUT "${_ft_out}"
      COMMAND ${CMAKE_COMMAND} -E make_directory "${PROJECT_BINARY_DIR}/man"
      COMMAND ${CMAKE_COMMAND} -E copy "${_ft_src}"
              "${PROJECT_BINARY_DIR}/man/${_ft_man}"
      COMMAND "${FLAGTAP_GZIP}" -9nf "${PROJECT_BINARY_DIR}/man/${_ft_man}"
      DEPENDS "${_ft_src}"
      COMMENT "Compressing man/${_ft_man}"
      VERBATIM)
    list(APPEND _ft_man_outputs "${_ft_out}")
  else()
    set(_ft_out "${_ft_src}")
  endif()
  install(FILES "${_ft_out}"
    DESTINATION "${CMAKE_INSTALL_MANDIR}/man${_ft_sect}")
endforeach()
if(_ft_man_outputs)
  add_custom_target(flagtap_man ALL DEPENDS ${_ft_man_outputs})
endif()

# ---- documentation ---------------------------------------------------------
# Same relative layout as the repository, so the README's links to
# docs/*.md and rules/README.md hold.
install(FILES README.md DESTINATION "${CMAKE_INSTALL_DOCDIR}")
install(DIRECTORY docs/ DESTINATION "${CMAKE_INSTALL_DOCDIR}/docs"
  FILES_MATCHING PATTERN "*.md")
install(FILES rules/README.md DESTINATION "${CMAKE_INSTALL_DOCDIR}/rules")
# the fuller example configuration, and the deployment notes if present
install(FILES deploy/flagtap.conf DESTINATION "${CMAKE_INSTALL_DOCDIR}/examples")
if(EXISTS "${PROJECT_SOURCE_DIR}/deploy/README.md")
  install(FILES deploy/README.md DESTINATION "${CMAKE_INSTALL_DOCDIR}/deploy")
endif()

# ---- CPack: the .deb -------------------------------------------------------
set(FLAGTAP_PACKAGE_MAINTAINER
  "flagtap maintainers <maintainers@users.noreply.r-seed-d8af37b5.example>"
  CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "flagtap")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${FLAGTAP_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "streaming compliance log processor for Apache Kafka")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"flagtap runs beside Kafka brokers as a consumer group, applies compliance
rules (PCRE2 patterns with field conditions, checksums, term lists,
exceptions and redaction, prefiltered by Hyperscan) to every record of
the input topics, and writes a zlib-compressed JSON envelope for every
flagged record to an output topic. An input offset is committed only
after the envelopes of the records below it are acknowledged.

The package installs the daemon and its tools (rules check/test, scan,
decode, record, replay, gen, bench), rule packs for card data, secrets,
personal data, privileged access, AML, PBOC large-value reports and
sanctions screening under /etc/flagtap/rules, and a systemd unit that is
installed disabled.")
# The .deb is built from the install tree of this configuration: same prefix.
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # flagtap_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${FLAGTAP_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# dpkg-shlibdeps (dpkg-dev) derives the library packages from the binary:
# librdkafka1, libpcre2-8-0, zlib1g, libhyperscan5, libjemalloc2,
# libmicrohttpd12, libicu72, libc6; adduser is what postinst needs on top of them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# The maintainer scripts, and conffiles: every file the package puts under
# /etc, listed by packaging/conffiles.cmake from CPack's staging tree.
set(CPACK_PRE_BUILD_SCRIPTS "${PROJECT_SOURCE_DIR}/packaging/conffiles.cmake")
set(CPACK_FLAGTAP_CONFFILES "${PROJECT_BINARY_DIR}/packaging/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${PROJECT_SOURCE_DIR}/packaging/debian/postinst"
  "${PROJECT_SOURCE_DIR}/packaging/debian/prerm"
  "${PROJECT_SOURCE_DIR}/packaging/debian/postrm"
  "${CPACK_FLAGTAP_CONFFILES}")
# 0755 scripts, 0644 conffiles, whatever the checkout's modes
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
