# vitals_add_plugin(<name> SOURCES <files...> [LIBRARIES <targets...>])
#
# Builds <name>.so, a vitals check plugin: a MODULE library linked to vitals::sdk, exporting only
# vitals_plugin_entry (hidden visibility plus a version script, since libstdc++'s template
# instances in namespace std are otherwise exported too), no GNU unique symbols (so glibc can unload
# it), and no undefined symbols left for load time. Output goes to VITALS_PLUGIN_OUTPUT_DIR when
# set, else to the current binary directory.
function(vitals_add_plugin name)
  if(NOT TARGET vitals::sdk)
    message(FATAL_ERROR "vitals_add_plugin(${name}): vitals::sdk is not defined; use find_package(vitals-sdk)")
  endif()
  set(version_script ${CMAKE_BINARY_DIR}/vitals-plugin-exports.map)
  if(NOT EXISTS ${version_script})
    file(WRITE ${version_script} "{ global: vitals_plugin_entry; local: *; };\n")
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "vitals_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE vitals::sdk)
  target_link_libraries(${name} PRIVATE ${ARG_LIBRARIES})
  target_compile_features(${name} PRIVATE cxx_std_17)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${name} PRIVATE -fno-gnu-unique)
  endif()
  target_link_options(${name} PRIVATE -Wl,--no-undefined -Wl,--version-script=${version_script})
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS ${version_script})
  if(DEFINED VITALS_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${VITALS_PLUGIN_OUTPUT_DIR})
  endif()
endfunction()
