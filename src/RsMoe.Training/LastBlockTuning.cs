using System.Diagnostics;
using RsMoe.Model.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Training;

/// <summary>
/// Tunes ResNet-18's last residual block on the train photos' scene classes (UCM-captions, RSICD and RSSCN7, each with
/// its own classes: one head, each photo's softmax over its own benchmark's classes), from cached maps of the block's
/// input, and measures what it buys: the linear probe on the block's output before and after tuning, train split to
/// test split, as <see cref="LinearProbe"/> scores image features. Only the block and the head learn; every earlier
/// layer stays ImageNet's.
/// </summary>
public static class LastBlockTuning
{
    /// <param name="Turns">Train on each batch in one of the eight orientations of its maps (quarter turns, mirrored).</param>
    public sealed record Options(int Epochs = 4, int BatchSize = 64, double BlockLearningRate = 1e-4, double HeadLearningRate = 1e-3,
        double WeightDecay = 0.05, double Dropout = 0.3, bool Turns = true, int Seed = 17);

    public sealed record Score(string Benchmark, double UntunedProbe, double TunedProbe, double TunedHead);

    sealed record Photo(string Path, string Label, int Benchmark);

    /// <summary>Tunes the block on every split's train photos and scores every split's test photos; returns the tuned block and the scores.</summary>
    public static (ResNetBlock Block, IReadOnlyList<Score> Scores) TuneAndProbe(IReadOnlyList<LinearProbe.Split> splits, string featureCache,
        Options options, Action<string>? log = null)
    {
        var tap = ResNetTap.BeforeLastBlock;
        using var backbone = ImageBackbone.Create(tap.BackboneName);
        var cache = new FeatureCache(featureCache, backbone.Encoder, backbone.Preprocessing);
        using var positions = ResNetImageEncoder.SineCosinePositions(tap.Side, tap.Width);
        // The block's input maps [N, width, side, side]: the cached tokens without their position codes.
        Tensor Maps(IEnumerable<string> paths)
        {
            using var scope = NewDisposeScope();
            var maps = paths.Select(path => (cache.Get(path) - positions).t().reshape(tap.Width, tap.Side, tap.Side)).ToArray();
            return stack(maps, 0).MoveToOuterDisposeScope();
        }

        var train = splits.SelectMany((s, b) => s.Train.Select(p => new Photo(p.Path, p.Label, b))).ToList();
        var classes = train.Select(p => (p.Benchmark, p.Label)).Distinct().Order().ToList();
        var classIndex = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => (long)x.i);
        // Each photo's logits see its own benchmark's classes only: the others get a large negative offset.
        using var masks = full(splits.Count, classes.Count, -1e9f);
        foreach (var (c, i) in classIndex) masks[c.Benchmark, i] = 0f;

        log?.Invoke($"last-block tuning: {train.Count} train photos, {classes.Count} classes over {splits.Count} benchmarks; reading maps");
        using var trainMaps = Maps(train.Select(p => p.Path));
        using var trainLabels = tensor(train.Select(p => classIndex[(p.Benchmark, p.Label)]).ToArray());
        using var trainBenchmarks = tensor(train.Select(p => (long)p.Benchmark).ToArray());

        var block = ResNetBlock.FromOnnx(((ResNetImageEncoder)backbone.Encoder).ModelPath, ResNetTap.LastStage.Output);
        var untuned = splits.Select(s => Pooled(block, s, Maps)).ToList();

        using var head = nn.Linear(2 * tap.Width, classes.Count);
        var blockOptimizer = optim.AdamW(block.parameters(), lr: options.BlockLearningRate, weight_decay: options.WeightDecay);
        var headOptimizer = optim.AdamW(head.parameters(), lr: options.HeadLearningRate, weight_decay: options.WeightDecay);
        var random = new Random(options.Seed);
        manual_seed(options.Seed);
        int steps = (train.Count + options.BatchSize - 1) / options.BatchSize;
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            block.train();
            head.train();
            var order = Enumerable.Range(0, train.Count).OrderBy(_ => random.Next()).ToArray();
            double lossSum = 0;
            var clock = Stopwatch.StartNew();
            for (int step = 0; step < steps; step++)
            {
                using var scope = NewDisposeScope();
                var rows = tensor(order.Skip(step * options.BatchSize).Take(options.BatchSize).Select(i => (long)i).ToArray());
                var maps = trainMaps.index_select(0, rows);
                if (options.Turns) maps = FeatureCache.Turn(maps, random.Next(8));
                var pooled = Pool(block.forward(maps));
                var logits = head.forward(nn.functional.dropout(pooled, options.Dropout, training: true)) + masks.index_select(0, trainBenchmarks.index_select(0, rows));
                var loss = nn.functional.cross_entropy(logits, trainLabels.index_select(0, rows));
                blockOptimizer.zero_grad();
                headOptimizer.zero_grad();
                loss.backward();
                blockOptimizer.step();
                headOptimizer.step();
                lossSum += loss.item<float>();
                if ((step + 1) % 50 == 0 || step + 1 == steps)
                    log?.Invoke($"  epoch {epoch + 1}/{options.Epochs} step {step + 1}/{steps}: loss {lossSum / (step + 1):F3}, {(step + 1) * options.BatchSize / clock.Elapsed.TotalSeconds:F1} photos/s");
            }
        }
        block.eval();
        head.eval();

        var scores = new List<Score>();
        for (int b = 0; b < splits.Count; b++)
        {
            var split = splits[b];
            var tuned = Pooled(block, split, Maps);
            var trainY = split.Train.Select(p => p.Label).ToList();
            var testY = split.Test.Select(p => p.Label).ToList();
            var before = LinearProbe.FitAndScore(untuned[b].Train, trainY, untuned[b].Test, testY);
            var after = LinearProbe.FitAndScore(tuned.Train, trainY, tuned.Test, testY);
            double headAccuracy;
            using (no_grad())
            using (var logits = head.forward(tuned.Test) + masks[b])
            {
                var predicted = logits.argmax(1).data<long>().ToArray();
                headAccuracy = testY.Where((label, i) => classes[(int)predicted[i]] == (b, label)).Count() / (double)Math.Max(1, testY.Count);
            }
            log?.Invoke($"{split.Name}: probe untuned {before.Accuracy:P2}, tuned {after.Accuracy:P2}; tuned head {headAccuracy:P2}");
            scores.Add(new Score(split.Name, before.Accuracy, after.Accuracy, headAccuracy));
            untuned[b].Train.Dispose(); untuned[b].Test.Dispose(); tuned.Train.Dispose(); tuned.Test.Dispose();
        }
        return (block, scores);
    }

    public static string Markdown(IReadOnlyList<Score> scores)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine("| benchmark | probe, ImageNet block | probe, tuned block | tuned head |");
        text.AppendLine("|---|---:|---:|---:|");
        foreach (var score in scores)
            text.AppendLine($"| {score.Benchmark} | {100 * score.UntunedProbe:F2} % | {100 * score.TunedProbe:F2} % | {100 * score.TunedHead:F2} % |");
        return text.ToString();
    }

    /// <summary>[B, 2C]: mean and max over the map's positions, the probe's pooling.</summary>
    static Tensor Pool(Tensor map) => cat([map.mean([2, 3]), map.amax([2, 3])], 1);

    /// <summary>Pooled block outputs of a split's train and test photos.</summary>
    static (Tensor Train, Tensor Test) Pooled(ResNetBlock block, LinearProbe.Split split, Func<IEnumerable<string>, Tensor> maps)
    {
        Tensor Run(IReadOnlyList<(string Path, string Label)> photos)
        {
            var parts = new List<Tensor>();
            for (int start = 0; start < photos.Count; start += 256)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var batch = maps(photos.Skip(start).Take(256).Select(p => p.Path));
                parts.Add(Pool(block.forward(batch)).MoveToOuterDisposeScope());
            }
            var all = cat(parts, 0);
            foreach (var p in parts) p.Dispose();
            return all;
        }
        return (Run(split.Train), Run(split.Test));
    }
}
