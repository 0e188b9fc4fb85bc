/* convert.h — `ddptrain convert IN --out OUT.h5`: CSV/TSV or LIBSVM text to
 * the ddptrain HDF5 layout (float32 features [n_rows, n_features] and labels
 * [n_rows], chunked and extendible, optional gzip).
 *
 * Serial and streaming: runs on rank 0 only with HDF5's default (sec2)
 * driver, holds one block of rows at a time, so memory does not grow with the
 * number of rows. Writes OUT.tmp.<pid> and renames it onto OUT only on
 * success. Not here: MPI agreement (main.c), reading HDF5 (data.c, info.c). */
#ifndef DDPTRAIN_CONVERT_H
#define DDPTRAIN_CONVERT_H

#include "ddptrain/config.h"

/* Uses cfg->in_path, out_path, format, label_col, header, delimiter,
 * zero_based, n_features, chunk_rows, gzip_level, features_name, labels_name,
 * quiet. Prints a one-line report on stdout unless quiet. Returns DDP_OK,
 * DDP_EXIT_USAGE (bad input or options; parse errors name the file and the
 * 1-based line) or DDP_EXIT_IO (cannot read the input or write the output),
 * with a message in err (DDP_ERR_LEN bytes). */
int ddp_convert_run(const ddp_config *cfg, char *err);

#endif
