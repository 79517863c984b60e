using System.Text;
using System.Text.Json;

namespace RsMoe.Training;

/// <summary>
/// The paper's ablations at small scale on the synthetic benchmark: the number of experts (1–4, two-stage) and
/// one-stage against two-stage training (3 experts). Every run has the same data, seed and budget; each is scored
/// on the same test images. Writes <c>ablations.md</c> and <c>ablations.json</c>.
/// </summary>
public static class AblationRunner
{
    public sealed record Row(string Name, int Experts, string Stage, double TrainMinutes, IReadOnlyDictionary<string, double> Captions,
        double VqaAccuracy, IReadOnlyDictionary<string, double> VqaPerType)
    {
        /// <summary>Real imagery only: the first expert's section alone, and RSSCN7 theme accuracy.</summary>
        public IReadOnlyDictionary<string, double>? ThemeSection { get; init; }
        public double? ThemeAccuracy { get; init; }
    }

    public static TrainingConfig Base(string data, string output) => TrainingConfig.Preset("default") with
    {
        Data = data, Output = output, TrainImages = 400, Epochs = 4, Stage2Epochs = 2,
    };

    /// <summary>
    /// The real-imagery recipe on a fixed step budget (every run the same): Stage 0 then the stages, on all of the
    /// real train data, so one-stage means LoRA experts trained straight from the Stage 0 language model.
    /// </summary>
    public static TrainingConfig RealBase(string sharedData, string output, string featureCache) => TrainingConfig.Preset("real") with
    {
        RealData = sharedData, Rsscn7 = Path.Combine(sharedData, "rsscn7"), Output = output, FeatureCache = featureCache, MaxSteps = 300, Stage2MaxSteps = 400,
    };

    static List<(string Name, TrainingConfig Config)> Runs(Func<string, TrainingConfig> baseFor, string output)
    {
        var runs = new List<(string Name, TrainingConfig Config)>();
        foreach (int experts in new[] { 1, 2, 3, 4 })
            runs.Add(($"{experts} expert{(experts == 1 ? "" : "s")}, two-stage", baseFor(Path.Combine(output, $"experts-{experts}", "run")) with { Experts = experts }));
        runs.Add(("3 experts, one-stage", baseFor(Path.Combine(output, "one-stage", "run")) with { Stage = "one-stage" }));
        return runs;
    }

    /// <summary>The ablations on real imagery, each run scored by <see cref="RealImageryEvaluation"/> on its first <paramref name="testImages"/> images per split.</summary>
    /// <param name="adjust">Changes every run's config alike (tests shrink the model and the budget with it).</param>
    public static IReadOnlyList<Row> RunReal(string sharedData, string output, string featureCache, int testImages, Action<string> log,
        Func<TrainingConfig, TrainingConfig>? adjust = null)
    {
        var rows = new List<Row>();
        adjust ??= c => c;
        foreach (var (name, config) in Runs(run => adjust(RealBase(sharedData, run, featureCache)), output))
        {
            log($"== {name}");
            var report = new Trainer(config, log).Run();
            var evaluation = RealImageryEvaluation.Run(report.ModelDirectory, sharedData, Path.Combine(Path.GetDirectoryName(config.Output)!, "eval"),
                featureCache, testImages, log);
            var ucm = evaluation.Captions.Single(c => c.Name == "ucm");
            rows.Add(new Row(name, config.Experts, config.Stage, Math.Round(report.Seconds / 60, 2), ucm.Merged, evaluation.VqaAccuracy, evaluation.VqaPerType)
                { ThemeSection = ucm.ThemeSection, ThemeAccuracy = evaluation.ThemeAccuracy });
            Write(output, rows, testImages, real: true);
        }
        return rows;
    }

    public static IReadOnlyList<Row> Run(string data, string output, int testImages, Action<string> log)
    {
        var runs = Runs(run => Base(data, run), output);

        var rows = new List<Row>();
        foreach (var (name, config) in runs)
        {
            log($"== {name}");
            var report = new Trainer(config, log).Run();
            var evaluation = ModelEvaluation.Run(report.ModelDirectory, data, "test", Path.Combine(Path.GetDirectoryName(config.Output)!, "eval"), testImages,
                featureCache: Path.Combine(output, "feature-cache"), log: log);
            rows.Add(new Row(name, config.Experts, config.Stage, Math.Round(report.Seconds / 60, 2),
                evaluation.Captions!.Corpus, evaluation.Vqa?.Overall ?? 0, evaluation.Vqa?.PerType ?? new Dictionary<string, double>()));
            Write(output, rows, testImages);
        }
        return rows;
    }

    static void Write(string output, List<Row> rows, int testImages, bool real = false)
    {
        File.WriteAllText(Path.Combine(output, "ablations.json"), JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
        var md = new StringBuilder();
        if (real)
        {
            md.AppendLine("# Ablations on real imagery").AppendLine();
            md.AppendLine("Written by `rsmoe ablate --real-data`: every run trains on all of the real train data (UCM-captions, RSICD, RSIVQA, RSSCN7; seed 1)");
            md.AppendLine("with the same step budget: Stage 0 300 steps, Stage I 300 steps, Stage II 400 steps of 32 (one-stage: Stage 0, then Q-Former +");
            md.AppendLine($"router + expert adapters straight from the Stage 0 language model). Scored on UCM-captions test ({testImages} images), RSIVQA on those");
            md.AppendLine("images, and RSSCN7 validation photos. Caption metrics ×100 (METEOR exact+stem); the first expert's section is the whole caption with one expert.").AppendLine();
            md.AppendLine("| run | merged BLEU-4 | merged METEOR | merged CIDEr | first-section BLEU-4 | first-section CIDEr | RSIVQA % | RSSCN7 theme % | train min |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|");
            foreach (var r in rows)
                md.AppendLine($"| {r.Name} | {r.Captions["Bleu_4"] * 100:F2} | {r.Captions["METEOR"] * 100:F2} | {r.Captions["CIDEr"] * 100:F2} | " +
                              $"{r.ThemeSection!["Bleu_4"] * 100:F2} | {r.ThemeSection["CIDEr"] * 100:F2} | {r.VqaAccuracy * 100:F1} | {r.ThemeAccuracy * 100:F1} | {r.TrainMinutes:F1} |");
            File.WriteAllText(Path.Combine(output, "ablations.md"), md.ToString());
            return;
        }
        md.AppendLine("# Ablations on the synthetic benchmark");
        md.AppendLine();
        md.AppendLine($"Written by `rsmoe ablate`: every run trains on the same 400 synthetic train images (seed 1), Stage I 4 epochs and Stage II 2 epochs");
        md.AppendLine($"(one-stage: 2 epochs of Q-Former + router + expert adapters from an untrained LLM), and is scored on the first {testImages} test images.");
        md.AppendLine("Caption metrics ×100 (METEOR exact+stem); VQA accuracy in %.");
        md.AppendLine();
        md.AppendLine("| run | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | METEOR | ROUGE-L | CIDEr | VQA | train min |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            md.AppendLine($"| {r.Name} | {r.Captions["Bleu_1"] * 100:F2} | {r.Captions["Bleu_2"] * 100:F2} | {r.Captions["Bleu_3"] * 100:F2} | {r.Captions["Bleu_4"] * 100:F2} | " +
                          $"{r.Captions["METEOR"] * 100:F2} | {r.Captions["ROUGE_L"] * 100:F2} | {r.Captions["CIDEr"] * 100:F2} | {r.VqaAccuracy * 100:F1} | {r.TrainMinutes:F1} |");
        md.AppendLine();
        var types = rows.SelectMany(r => r.VqaPerType.Keys).Distinct().Order().ToList();
        md.AppendLine("VQA accuracy per question type (%):");
        md.AppendLine();
        md.AppendLine("| run | " + string.Join(" | ", types) + " |");
        md.AppendLine("|---|" + string.Concat(types.Select(_ => "---|")));
        foreach (var r in rows)
            md.AppendLine($"| {r.Name} | " + string.Join(" | ", types.Select(t => r.VqaPerType.TryGetValue(t, out var v) ? (v * 100).ToString("F1") : "–")) + " |");
        File.WriteAllText(Path.Combine(output, "ablations.md"), md.ToString());
    }
}
