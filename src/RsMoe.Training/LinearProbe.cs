using System.Text;
using RsMoe.Captions;
using RsMoe.Data.Datasets;
using RsMoe.Model;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Training;

/// <summary>
/// How much of the scene the features hold: a linear classifier (L2-regularised multinomial logistic regression on
/// standardised features) fitted on a benchmark's train photos and scored on its test photos, once on the frozen image
/// encoder's tokens (mean and max over the tokens) and, given a model, once on its visual prefix (the mean of the
/// projected Q-Former queries under the product's instruction, what Stage I's scene loss reads). The first is the
/// recognition the image encoder allows; the gap to the second is what the VLM encoder loses; the gap from the second
/// to the theme accuracy is what the language model loses.
/// </summary>
public static class LinearProbe
{
    public sealed record Score(double Accuracy, IReadOnlyDictionary<string, double> PerClass);

    public sealed record Benchmark(string Name, int Classes, int TrainPhotos, int TestPhotos, Score Features, Score? VisualPrefix);

    /// <summary>Photos of one benchmark: path and class, for the train and the test side.</summary>
    public sealed record Split(string Name, IReadOnlyList<(string Path, string Label)> Train, IReadOnlyList<(string Path, string Label)> Test);

    /// <summary>UCM-captions train → test, RSICD train → test (available images), RSSCN7 train → val: the splits the model trains and is measured on.</summary>
    public static IReadOnlyList<Split> StandardSplits(string sharedData)
    {
        var real = new RealImagery(sharedData);
        static List<(string, string)> Labelled(CaptionDataset d, string split) => d.Split(split).Where(i => i.Label is not null).Select(i => (i.FileName, i.Label!)).ToList();
        var ucm = real.Ucm();
        var rsicd = real.Rsicd().Dataset;
        static List<(string, string)> Rsscn7Photos(string folder, string split) => Rsscn7.Split(folder, split).Select(p => (p.Path, p.Label)).ToList();
        return
        [
            new("UCM-captions test", Labelled(ucm, "train"), Labelled(ucm, "test")),
            new("RSICD test", Labelled(rsicd, "train"), Labelled(rsicd, "test")),
            new("RSSCN7 val", Rsscn7Photos(real.Rsscn7, "train"), Rsscn7Photos(real.Rsscn7, "val")),
        ];
    }

    /// <summary>
    /// Both probes on every split; features come from (and go to) the cache. Without a model, the image features are
    /// <paramref name="imageEncoder"/>'s (a backbone name), so encoders can be compared before one is trained on.
    /// </summary>
    public static IReadOnlyList<Benchmark> Run(IReadOnlyList<Split> splits, string featureCache, string? modelDirectory, Action<string>? log = null,
        string? imageEncoder = null)
    {
        using var model = modelDirectory is null ? null : ModelFolder.Load(modelDirectory, sharedBase: true);
        if (model is not null && imageEncoder is not null && imageEncoder != model.Config.ImageEncoder)
            throw new ArgumentException($"the model reads {model.Config.ImageEncoder} features; probe {imageEncoder} without a model");
        // Each photo as it is, even for a model that averages orientations: the probes compare maps and prefixes, and
        // eight passes over 11,000 train photos would cost the better part of an hour here.
        using var backbone = model is null ? ImageBackbone.Create(imageEncoder ?? ImageBackbone.ResNet18, null) : ImageBackbone.For(model.Config with { ImageOrientations = 1 });
        log?.Invoke($"image features: {backbone.Identity}");
        var cache = new FeatureCache(featureCache, backbone.Encoder, backbone.Preprocessing);
        var results = new List<Benchmark>();
        foreach (var split in splits)
        {
            log?.Invoke($"{split.Name}: {split.Train.Count} train and {split.Test.Count} test photos");
            using var scope = NewDisposeScope();
            var (trainPooled, trainPrefix) = Describe(split.Train.Select(p => p.Path).ToList(), cache, model);
            var (testPooled, testPrefix) = Describe(split.Test.Select(p => p.Path).ToList(), cache, model);
            var trainLabels = split.Train.Select(p => p.Label).ToArray();
            var testLabels = split.Test.Select(p => p.Label).ToArray();
            var features = FitAndScore(trainPooled, trainLabels, testPooled, testLabels);
            var prefix = trainPrefix is null ? null : FitAndScore(trainPrefix, trainLabels, testPrefix!, testLabels);
            log?.Invoke($"{split.Name}: features {features.Accuracy:P2}" + (prefix is null ? "" : $", visual prefix {prefix.Accuracy:P2}"));
            results.Add(new Benchmark(split.Name, trainLabels.Concat(testLabels).Distinct().Count(), split.Train.Count, split.Test.Count, features, prefix));
        }
        return results;
    }

    /// <summary>[N, 2 × width] mean and max over each photo's visual tokens, and [N, llm hidden] its mean visual prefix when a model is given.</summary>
    static (Tensor Pooled, Tensor? Prefix) Describe(IReadOnlyList<string> paths, FeatureCache cache, RsMoeModel? model)
    {
        var pooled = new List<Tensor>();
        var prefix = new List<Tensor>();
        const int Batch = 64;
        for (int start = 0; start < paths.Count; start += Batch)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var tokens = stack(paths.Skip(start).Take(Batch).Select(cache.Get).ToArray(), 0);       // [B, N, width]
            pooled.Add(cat([tokens.mean([1]), tokens.amax([1])], 1).MoveToOuterDisposeScope());
            if (model is not null)
            {
                using var encoded = model.Encode(tokens, Enumerable.Repeat(CaptionPolicy.Instruction, (int)tokens.shape[0]).ToList());
                prefix.Add(encoded.VisualPrefix.mean([1]).to_type(ScalarType.Float32).MoveToOuterDisposeScope());
            }
        }
        return (cat(pooled, 0), model is null ? null : cat(prefix, 0));
    }

    const int Steps = 500;

    /// <summary>
    /// Fits on (<paramref name="trainX"/>, <paramref name="trainY"/>) and scores on the test side. Features are
    /// standardised by the train side's mean and spread; the weights minimise the mean cross-entropy plus
    /// <paramref name="l2"/>/N_train × ‖W‖² (scikit-learn's C = 1/(2 l2)), by full-batch Adam from zero
    /// (<see cref="Steps"/> steps; TorchSharp's L-BFGS has no line search): deterministic.
    /// </summary>
    public static Score FitAndScore(Tensor trainX, IReadOnlyList<string> trainY, Tensor testX, IReadOnlyList<string> testY, double l2 = 5)
    {
        var classes = trainY.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var index = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => (long)x.i, StringComparer.Ordinal);
        using var scope = NewDisposeScope();
        var mean = trainX.mean([0], keepdim: true);
        var spread = trainX.std(0, keepdim: true).clamp_min(1e-6);
        var x = (trainX - mean) / spread;
        var y = tensor(trainY.Select(c => index[c]).ToArray());
        var weights = nn.Parameter(zeros(x.shape[1], classes.Length));
        var bias = nn.Parameter(zeros(classes.Length));
        var optimizer = optim.Adam([weights, bias], lr: 0.01);
        using Scalar penalty = l2 / x.shape[0];   // held for the loop: a temporary Scalar may be finalised mid-call (see Scalars)
        for (int step = 0; step < Steps; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.cross_entropy(x.matmul(weights).add(bias, Scalars.One), y).add(weights.mul(weights).sum().mul(penalty), Scalars.One).backward();
            optimizer.step();
        }
        using var noGrad = no_grad();
        var predicted = ((testX - mean) / spread).matmul(weights).add(bias).argmax(1).data<long>().ToArray();
        var right = new Dictionary<string, (int Right, int Total)>(StringComparer.Ordinal);
        for (int i = 0; i < testY.Count; i++)
        {
            var (r, t) = right.GetValueOrDefault(testY[i]);
            right[testY[i]] = (r + (classes[predicted[i]] == testY[i] ? 1 : 0), t + 1);
        }
        return new Score(right.Values.Sum(v => v.Right) / (double)Math.Max(1, testY.Count),
            right.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => kv.Value.Right / (double)kv.Value.Total));
    }

    public static string Markdown(IReadOnlyList<Benchmark> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| benchmark | classes | train photos | test photos | probe on image features | probe on visual prefix |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var b in results)
            text.AppendLine($"| {b.Name} | {b.Classes} | {b.TrainPhotos} | {b.TestPhotos} | {100 * b.Features.Accuracy:F2} % | {(b.VisualPrefix is { } p ? $"{100 * p.Accuracy:F2} %" : "—")} |");
        return text.ToString();
    }
}
