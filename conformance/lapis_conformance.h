/* SPDX-License-Identifier: MIT */
/*
 * The conformance runner's entry point, for the `lapis conformance` subcommand
 * (src/cli/main.c) and build/lapis-conformance. @argv[0] is the subcommand's
 * name; the rest are its options (--help lists them). Returns the exit status:
 * 0 all cells passed or were skipped, 1 a cell failed, 2 bad usage.
 */
#ifndef LAPIS_CONFORMANCE_H
#define LAPIS_CONFORMANCE_H

int lapis_conformance_main(int argc, char **argv);

#endif
