/* usage.c — the --help text of every command. Kept apart from the parser
 * (config.c) so that each stays one concern; the option names here must match
 * config.c's table (test_cli checks every command's --help). */
#include "ddptrain/config.h"

#include <stdio.h>

void ddp_config_usage(ddp_command cmd, FILE *out)
{
    switch (cmd) {
    case DDP_CMD_GEN:
        fputs("usage: [mpirun -n P] ddptrain gen linear|logistic|softmax --out FILE [options]\n"
              "Write a synthetic dataset with a planted model; every rank writes its own rows.\n"
              "The same --seed gives the same data whatever P is.\n\n"
              "  -o, --out FILE        output HDF5 file (overwritten)\n"
              "      --rows N          number of rows (default 1000)\n"
              "      --features N      number of features (default 16)\n"
              "      --classes C       classes for softmax (default 10)\n"
              "      --seed S          random seed (default 0)\n"
              "      --noise SIGMA     label noise: Gaussian std for linear, logit noise otherwise (default 0.1)\n"
              "      --dtype T         float32 (default) or float64\n"
              "      --chunk-rows R    chunked layout with R rows per chunk (default: contiguous)\n"
              "      --gzip L          gzip level 1..9 (+ shuffle filter); implies chunking\n"
              "      --x-name NAME     feature dataset (default /X)\n"
              "      --y-name NAME     label dataset (default /y)\n",
              out);
        break;
    case DDP_CMD_INFO:
        fputs("usage: ddptrain info FILE [--features NAME] [--labels NAME] [--checksum]\n"
              "Describe an HDF5 file: every dataset with shape, dtype, layout, chunks and filters,\n"
              "and a summary of the labels (classes and counts, or min/mean/max).\n\n"
              "      --features NAME   feature dataset to summarise (default /X)\n"
              "      --labels NAME     label dataset to summarise (default /y)\n"
              "      --checksum        read all rows and print the data checksum that\n"
              "                        'ddptrain load --checksum' reproduces across ranks\n",
              out);
        break;
    case DDP_CMD_LOAD:
        fputs("usage: mpirun -n P ddptrain load --data FILE [options]\n"
              "Load and validate this rank's shard exactly as training will, report rows,\n"
              "bytes and GB/s per rank (min/avg/max), and exit.\n\n"
              "      --data FILE          HDF5 dataset file\n"
              "      --features NAME      feature dataset, [n_rows, n_features] (default /X)\n"
              "      --labels NAME        label dataset, [n_rows] (default /y)\n"
              "      --model M            linear | logistic | softmax: decides label checks\n"
              "                           (default: linear, any finite label)\n"
              "      --classes C          number of classes for softmax (default: max label + 1)\n"
              "      --virtual-shards V   fixed row partition independent of P (default 64)\n"
              "      --checksum           print the checksum of all loaded rows\n"
              "      --memory-limit B     bytes per rank for the shard, e.g. 4G (default: the node's available\n"
              "                           memory, or cgroup limit, divided by its ranks); a shard that does not\n"
              "                           fit is refused with the numbers (exit 6) instead of being OOM-killed\n",
              out);
        break;
    case DDP_CMD_CONVERT:
        fputs("usage: ddptrain convert IN --out OUT.h5 [options]\n"
              "Convert CSV or LIBSVM/SVMlight text to the ddptrain HDF5 format, streaming\n"
              "(memory stays bounded for inputs larger than RAM).\n\n"
              "  -o, --out FILE        output HDF5 file (overwritten)\n"
              "      --format F        csv | libsvm (default: from the extension; .csv/.tsv are csv)\n"
              "      --label-col C     CSV label column, by header name or 0-based index (default: last)\n"
              "      --header          the first CSV line is a header\n"
              "      --no-header       the first CSV line is data (default: detect)\n"
              "      --delimiter C     CSV field separator (default ',', tab for .tsv; 'tab' accepted)\n"
              "      --zero-based      LIBSVM feature indices start at 0\n"
              "      --one-based       LIBSVM feature indices start at 1 (default: detect)\n"
              "      --n-features N    LIBSVM feature count (default: largest index seen)\n"
              "      --chunk-rows R    rows per HDF5 chunk (default 4096)\n"
              "      --gzip L          gzip level 1..9\n"
              "      --x-name NAME     feature dataset (default /X)\n"
              "      --y-name NAME     label dataset (default /y)\n",
              out);
        break;
    case DDP_CMD_TRAIN:
        fputs("usage: mpirun -n P ddptrain train --data FILE --model M [options]\n"
              "Train data-parallel: every rank computes gradients over its rows of each GLOBAL batch,\n"
              "one allreduce per step, the same PyTorch-exact optimizer step on every rank.\n\n"
              "data\n"
              "      --data FILE           training data (HDF5; see README for the format)\n"
              "      --features NAME       feature dataset (default /X);  --labels NAME (default /y)\n"
              "      --val-data FILE       validation file (default: --data when --val-features is given)\n"
              "      --val-features NAME   validation features, e.g. /test/X;  --val-labels NAME\n"
              "      --standardize         scale features by the global mean/std of the training data\n"
              "                            (stored with the model, applied at eval/predict)\n"
              "      --virtual-shards V    fixed row partition: batches do not depend on P (default 64)\n"
              "      --memory-limit B      bytes per rank for the shard, e.g. 4G (default: available memory\n"
              "                            over the node's ranks); too large a shard exits 6 with the numbers\n"
              "model\n"
              "      --model M             linear (MSE) | logistic (BCE with logits) | softmax (cross-entropy)\n"
              "      --classes C           softmax classes (default: max label + 1)\n"
              "      --init FILE           start from weights saved by --save instead of nn.Linear init\n"
              "      --freeze NAMES        keep parameters fixed, e.g. --freeze bias\n"
              "optimizer (torch.optim names and defaults)\n"
              "      --optimizer O         sgd (default) | adam | adamw | rmsprop\n"
              "      --lr LR               default: sgd 1e-3, adam 1e-3, adamw 1e-3, rmsprop 1e-2\n"
              "      --momentum M  --dampening D  --nesterov          (sgd; rmsprop momentum)\n"
              "      --weight-decay WD     (adamw default 1e-2, decoupled; others coupled, default 0)\n"
              "      --betas B1,B2  --eps EPS  --amsgrad               (adam, adamw)\n"
              "      --alpha A  --centered                            (rmsprop)\n"
              "      --lr-schedule S       constant (default) | step | cosine\n"
              "      --warmup-steps N      linear warm-up;  --lr-step-size N  --lr-gamma G  (step)\n"
              "loop\n"
              "      --batch-size B        GLOBAL batch size (default 32); loss = mean over the batch\n"
              "      --epochs E (default 1)  --max-steps N  --no-shuffle  --drop-last  --seed S\n"
              "      --tol T --patience K  stop when the (validation, else training) loss has not improved\n"
              "                            by T for K epochs\n"
              "      --nan-policy P        abort (default: exit 3) | skip (skip the step; stop after\n"
              "                            --max-skips K consecutive skips, default 10)\n"
              "      --threads T           OpenMP threads per rank (default: cores available to the rank)\n"
              "output\n"
              "      --log-every N         a log line every N steps (default: per epoch)\n"
              "      --progress P          auto (default: a live bar when run directly on a terminal;\n"
              "                            under mpirun ranks cannot tell, so plain lines) | on | off\n"
              "      --print-weights       print parameter values at each log line\n"
              "      --metrics FILE        one JSON object per log line (JSONL)\n"
              "      --trace FILE          per-rank phase timeline, Chrome trace JSON (Perfetto)\n"
              "      --save FILE           final weights (checkpoint layout, readable with h5py)\n"
              "      --check-every N       cross-rank parameter checksum period in steps (default 100)\n"
              "checkpoints\n"
              "      --checkpoint PATH     write PATH.step<N>.h5 (weights, optimizer and sampler state,\n"
              "                            checksums; atomic) at --checkpoint-every and at the end\n"
              "      --checkpoint-every N  Ns or N: every N steps;  Ne: every N epochs\n"
              "      --keep K              keep the K newest checkpoints (default 2)\n"
              "      --resume              continue from the newest valid checkpoint at PATH (on any rank\n"
              "                            count the virtual shards allow); a fresh start when there is none\n"
              "signals: SIGTERM, SIGINT, SIGUSR1 finish the step, checkpoint, exit 7; a 2nd SIGINT exits at once\n"
              "      --step-timeout S      watchdog: a rank without progress for S seconds (stopped, deadlocked,\n"
              "                            stuck file system) ends the job with exit 5 (default 300; 0 = off)\n"
              "      --bucket-mb MB        split gradient reductions above MB MiB into buckets whose\n"
              "                            updates overlap the rest (default 25, like bucket_cap_mb)\n",
              out);
        break;
    case DDP_CMD_EVAL:
        fputs("usage: mpirun -n P ddptrain eval --checkpoint FILE --data FILE [--features N --labels N]\n"
              "Loss and metrics (accuracy, or RMSE and R^2) of saved weights on a dataset.\n", out);
        break;
    case DDP_CMD_PREDICT:
        fputs("usage: mpirun -n P ddptrain predict --checkpoint FILE --data FILE --out PRED.h5 [--features N]\n"
              "Write predictions in input row order: /prediction (linear: the value, float32;\n"
              "logistic and softmax: the class id, int32) and, for classifiers, /probability\n"
              "(logistic: P(y=1) [n]; softmax: class probabilities [n, C]).\n", out);
        break;
    default:
        fputs("usage: ddptrain <command> [options]     (ddptrain <command> --help for details)\n\n"
              "commands:\n"
              "  train     train a model data-parallel (mpirun -n P ddptrain train ...)\n"
              "  eval      loss and metrics of saved weights on a dataset\n"
              "  predict   predictions of saved weights, to HDF5\n"
              "  gen       write a synthetic dataset with a planted model (parallel)\n"
              "  info      describe an HDF5 dataset file\n"
              "  load      load and validate shards across ranks, report throughput\n"
              "  convert   CSV / LIBSVM text to HDF5\n\n"
              "  --version   print the version\n"
              "exit codes: 0 ok, 1 internal error, 2 usage or bad input, 3 numeric divergence,\n"
              "            4 I/O error, 5 watchdog, 6 out of memory, 7 stopped by a signal\n",
              out);
    }
}
