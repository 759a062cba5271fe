# CPACK_PRE_BUILD_SCRIPTS: runs after CPack has installed the package's
# files into its staging tree and before the .deb is made.  Writes the
# conffiles control file: every regular file the package puts under /etc,
# so that dpkg keeps an administrator's changes to the configuration and
# the rule packs on upgrade (CPack does not detect conffiles by itself).
if(CPACK_PACKAGING_INSTALL_PREFIX MATCHES "^/usr/local(/|$)")
  message(FATAL_ERROR "flagtap: a Debian package must not install into "
    "${CPACK_PACKAGING_INSTALL_PREFIX}: configure with "
    "-DCMAKE_INSTALL_PREFIX=/usr (scripts/package.sh does)")
endif()
set(_stage "${CPACK_TEMPORARY_DIRECTORY}")
if(NOT IS_DIRECTORY "${_stage}/etc")
  message(FATAL_ERROR "flagtap: no etc/ in the staging tree ${_stage}")
endif()
file(GLOB_RECURSE _files LIST_DIRECTORIES false
  RELATIVE "${_stage}" "${_stage}/etc/*")
list(SORT _files)
set(_out "")
foreach(_f IN LISTS _files)
  string(APPEND _out "/${_f}\n")
endforeach()
file(WRITE "${CPACK_FLAGTAP_CONFFILES}" "${_out}")
list(LENGTH _files _n)
message(STATUS "flagtap: ${_n} conffiles under /etc")
