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
        double VqaAccuracy, IReadOnlyDictionary<string, double> VqaPerType);

    public static TrainingConfig Base(string data, string output) => TrainingConfig.Preset("default") with
    {
        Data = data, Output = output, TrainImages = 400, Epochs = 4, Stage2Epochs = 2,
    };

    public static IReadOnlyList<Row> Run(string data, string output, int testImages, Action<string> log)
    {
        var runs = new List<(string Name, TrainingConfig Config)>();
        foreach (int experts in new[] { 1, 2, 3, 4 })
            runs.Add(($"{experts} expert{(experts == 1 ? "" : "s")}, two-stage", Base(data, Path.Combine(output, $"experts-{experts}", "run")) with { Experts = experts }));
        runs.Add(("3 experts, one-stage", Base(data, Path.Combine(output, "one-stage", "run")) with { Stage = "one-stage" }));

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

    static void Write(string output, List<Row> rows, int testImages)
    {
        File.WriteAllText(Path.Combine(output, "ablations.json"), JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
        var md = new StringBuilder();
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
