# cmake -DVITALS=<build>/vitals -DOUTPUT=<source>/docs/config-reference.md -P gen-config-reference.cmake
#
# Writes docs/config-reference.md: exactly what `vitals plugins --markdown` prints for the plugins
# next to that binary (<build>/plugins). $VITALS_PLUGIN_DIR is ignored so that a drop-in directory
# in the caller's environment cannot leak into the reference. tests/integration/test_docs.py runs the
# same command and fails while the committed file differs. Run through `make docs`.
if(NOT VITALS OR NOT OUTPUT)
  message(FATAL_ERROR "usage: cmake -DVITALS=<build>/vitals -DOUTPUT=<file> -P gen-config-reference.cmake")
endif()
unset(ENV{VITALS_PLUGIN_DIR})
execute_process(COMMAND ${VITALS} plugins --markdown
  OUTPUT_VARIABLE reference ERROR_VARIABLE errors RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${VITALS} plugins --markdown failed (${rc}):\n${errors}")
endif()
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} previous)
endif()
if(reference STREQUAL previous)
  message(STATUS "${OUTPUT} is up to date")
else()
  file(WRITE ${OUTPUT} "${reference}")
  message(STATUS "wrote ${OUTPUT}")
endif()
