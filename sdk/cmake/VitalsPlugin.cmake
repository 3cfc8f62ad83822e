# vitals_add_plugin(<name> SOURCES <files...> [LIBRARIES <targets...>])
#
# Builds <name>.so, a vitals check plugin: a MODULE library linked to vitals::sdk, with hidden
# visibility (only vitals_plugin_entry is exported), no GNU unique symbols (so glibc can unload it),
# and no undefined symbols left for load time. Output goes to VITALS_PLUGIN_OUTPUT_DIR when set,
# else to the current binary directory.
function(vitals_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "vitals_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  if(TARGET vitals::sdk)
    target_link_libraries(${name} PRIVATE vitals::sdk)
  endif()
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
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  if(DEFINED VITALS_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${VITALS_PLUGIN_OUTPUT_DIR})
  endif()
endfunction()
