using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RsMoe.Captions;
using RsMoe.Data.Datasets;
using RsMoe.Data.Images;
using RsMoe.Evaluation.Captions;
using RsMoe.Evaluation.Vqa;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;

namespace RsMoe.Training;

/// <summary>
/// A model on the standard real-imagery splits, as the product captions and answers (default instruction and
/// generation settings): UCM-captions test, RSICD test (its available images), RSIVQA on the UCM test images, RSSCN7's
/// validation photos (theme accuracy), and how often a section or an answer comes back empty. Captions are scored
/// twice: the merged caption (every section), and the theme section alone — the one-sentence caption the classic
/// benchmarks' single-sentence references describe.
/// </summary>
public static class RealImageryEvaluation
{
    public sealed record CaptionBenchmark(string Name, int Images, IReadOnlyDictionary<string, double> Merged, IReadOnlyDictionary<string, double> ThemeSection);

    /// <summary>Theme accuracy over the photos taken at one of RSSCN7's scales.</summary>
    public sealed record ScaleAccuracy(double Accuracy, int Photos);

    public sealed record Report(
        IReadOnlyList<CaptionBenchmark> Captions,
        IReadOnlyDictionary<string, double> VqaPerType, double VqaAccuracy, int VqaQuestions,
        double ThemeAccuracy, IReadOnlyDictionary<string, double> ThemeAccuracyPerClass, int ThemePhotos, IReadOnlyDictionary<int, ScaleAccuracy> ThemeAccuracyPerScale,
        IReadOnlyDictionary<string, double> EmptySectionShare, IReadOnlyDictionary<string, double> RepeatSectionShare, double EmptyAnswerShare, int RsicdMissingTestImages,
        string MeteorModules, int ImageOrientations, double Seconds);

    /// <param name="imageOrientations">How many orientations the image encoder averages (default: the model's own).</param>
    public static Report Run(string modelDirectory, string sharedData, string outputDirectory, string featureCache, int maxImages = 0, Action<string>? log = null,
        RsMoe.Model.Generation.GenerationOptions? captionOptions = null, RsMoe.Model.Decoding.DecodeWeightFormat decodeWeights = RsMoe.Model.Decoding.DecodeWeightFormat.Full,
        int? imageOrientations = null)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(outputDirectory);
        var real = new RealImagery(sharedData);
        using var model = ModelFolder.Load(modelDirectory, sharedBase: true);
        model.UseDecodeWeights(decodeWeights);
        var config = model.Config with { ImageOrientations = imageOrientations ?? model.Config.ImageOrientations };
        using var backbone = ImageBackbone.For(config);
        var cache = new FeatureCache(featureCache, backbone.Encoder, backbone.Preprocessing);
        var roles = model.Config.Router.ExpertRoles;
        var empty = roles.ToDictionary(r => r, _ => 0);
        var repeats = roles.ToDictionary(r => r, _ => 0);
        void Count(IReadOnlyList<CaptionSection> written)
        {
            for (int i = 0; i < written.Count; i++)
            {
                if (written[i].Text.Trim().Length == 0) empty[written[i].Aspect]++;
                else if (i > 0 && SectionMerger.OnlyRepeats(written[i].Text, written.Take(i).Select(s => s.Text))) repeats[written[i].Aspect]++;
            }
        }
        int captions = 0, answers = 0, emptyAnswers = 0;
        var records = new List<object>();
        var benchmarks = new List<CaptionBenchmark>();
        string meteorModules = "";

        var ucm = real.Ucm().Split("test").ToList();
        var rsicd = real.Rsicd();
        var vqaQuestions = new List<(string Id, string Type, string Reference)>();
        var vqaAnswers = new Dictionary<string, string>();
        foreach (var (name, all) in new[] { ("ucm", ucm), ("rsicd", rsicd.Dataset.Split("test").ToList()) })
        {
            var images = maxImages > 0 ? all.Take(maxImages).ToList() : all;
            var merged = new Dictionary<string, string>();
            var theme = new Dictionary<string, string>();
            var references = new Dictionary<string, IReadOnlyList<string>>();
            foreach (var image in images)
            {
                using var tokens = cache.Get(image.FileName).unsqueeze(0);
                var caption = model.Caption(tokens, CaptionPolicy.Instruction, captionOptions);
                merged[image.Id] = caption.Caption;
                theme[image.Id] = caption.Sections.FirstOrDefault(s => s.Aspect == roles[0])?.Text ?? "";
                references[image.Id] = image.Captions;
                captions++;
                Count(caption.Sections);
                var answered = new List<object>();
                foreach (var qa in image.QaPairs)
                {
                    var answer = model.Ask(tokens, qa.Question);
                    answers++;
                    if (answer.Answer.Trim().Length == 0) emptyAnswers++;
                    vqaAnswers[qa.Id] = answer.Answer;
                    vqaQuestions.Add((qa.Id, qa.Type, qa.Answer));
                    answered.Add(new { question = qa.Question, type = qa.Type, reference = qa.Answer, answer = answer.Answer, expert = answer.Expert });
                }
                records.Add(new { benchmark = name, image_id = image.Id, caption = caption.Caption, sections = caption.Sections.Select(s => new { aspect = s.Aspect, text = s.Text }), questions = answered });
                if (records.Count % 100 == 0) log?.Invoke($"{name}: {merged.Count}/{images.Count} images");
            }
            var mergedScores = new CaptionEvaluator().Score(merged, references);
            var themeScores = new CaptionEvaluator().Score(theme, references);
            meteorModules = mergedScores.MeteorModules;
            benchmarks.Add(new CaptionBenchmark(name, images.Count, mergedScores.Corpus, themeScores.Corpus));
            log?.Invoke($"{name}: {images.Count} images, merged CIDEr {mergedScores.Cider * 100:F2}, theme section CIDEr {themeScores.Cider * 100:F2}");
        }
        var vqa = VqaEvaluator.Score(vqaQuestions, vqaAnswers);

        // RSSCN7's validation photos: the theme section must name the class.
        var themeOutcomes = new List<(Rsscn7Photo Photo, bool Right)>();
        var photos = Rsscn7.Split(real.Rsscn7, "val").GroupBy(p => p.Label).SelectMany(g => maxImages > 0 ? g.Take(maxImages / 7 + 1) : g).ToList();
        foreach (var photo in photos)
        {
            using var tokens = cache.Get(photo.Path).unsqueeze(0);
            var caption = model.Caption(tokens, CaptionPolicy.Instruction, captionOptions);
            captions++;
            Count(caption.Sections);
            bool right = RsMoe.Training.ThemeAccuracy.Names(caption.Sections[0].Text, photo.Label);
            themeOutcomes.Add((photo, right));
            records.Add(new { benchmark = "rsscn7-val", image_id = photo.File, label = photo.Label, scale = photo.Scale, caption = caption.Caption, theme_named = right });
        }
        static double Share(IEnumerable<(Rsscn7Photo Photo, bool Right)> outcomes) => outcomes.Select(o => o.Right ? 1.0 : 0.0).DefaultIfEmpty().Average();
        var report = new Report(benchmarks, vqa.PerType, vqa.Overall, vqa.Questions,
            Share(themeOutcomes),
            themeOutcomes.GroupBy(o => o.Photo.Label).OrderBy(g => g.Key).ToDictionary(g => g.Key, Share), themeOutcomes.Count,
            themeOutcomes.GroupBy(o => o.Photo.Scale).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => new ScaleAccuracy(Share(g), g.Count())),
            empty.ToDictionary(e => e.Key, e => captions == 0 ? 0 : e.Value / (double)captions),
            repeats.ToDictionary(e => e.Key, e => captions == 0 ? 0 : e.Value / (double)captions), answers == 0 ? 0 : emptyAnswers / (double)answers,
            rsicd.Missing.GetValueOrDefault("test"), meteorModules, config.ImageOrientations, clock.Elapsed.TotalSeconds);

        var json = new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        File.WriteAllText(Path.Combine(outputDirectory, "predictions.json"), JsonSerializer.Serialize(records, json));
        File.WriteAllText(Path.Combine(outputDirectory, "scores.json"), JsonSerializer.Serialize(report, json));
        File.WriteAllText(Path.Combine(outputDirectory, "scores.md"), Markdown(report));
        return report;
    }

    static string F(double fraction) => (fraction * 100).ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>The model card's tables: ours (measured) beside the published rows (quoted, with their source).</summary>
    public static string Markdown(Report report)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Image features: each photo's map averaged over {report.ImageOrientations} orientation{(report.ImageOrientations == 1 ? "" : "s")} (`image_orientations`).").AppendLine();
        foreach (var b in report.Captions)
        {
            string title = b.Name == "ucm" ? $"UCM-captions test ({b.Images} images)"
                : $"RSICD test ({b.Images} of {b.Images + report.RsicdMissingTestImages} images: the available ones, 150 px copies)";
            sb.AppendLine($"**{title}** — metrics ×100; ours measured by `rsmoe eval real`, METEOR {report.MeteorModules}; published rows quoted from {PublishedResults.Source}:").AppendLine();
            sb.AppendLine("| model | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | METEOR | ROUGE-L | CIDEr |").AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var (label, scores) in new[] { ("this model, theme section (one sentence)", b.ThemeSection), ("this model, merged caption (three sections)", b.Merged) })
                sb.AppendLine($"| {label} | {string.Join(" | ", new[] { "Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr" }.Select(m => F(scores[m])))} |");
            foreach (var row in PublishedResults.ByBenchmark[b.Name])
                sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {row.Method} (published) | {row.Bleu1:F2} | {row.Bleu2:F2} | {row.Bleu3:F2} | {row.Bleu4:F2} | {row.Meteor:F2} | {row.RougeL:F2} | {row.Cider:F2} |"));
            sb.AppendLine();
        }
        sb.AppendLine($"**RSIVQA on the UCM-captions test images** ({report.VqaQuestions} questions), accuracy %:").AppendLine();
        sb.AppendLine($"| {string.Join(" | ", report.VqaPerType.Keys)} | all |").AppendLine($"|{string.Concat(Enumerable.Repeat("---|", report.VqaPerType.Count + 1))}");
        sb.AppendLine($"| {string.Join(" | ", report.VqaPerType.Values.Select(F))} | {F(report.VqaAccuracy)} |").AppendLine();
        sb.AppendLine($"**Theme accuracy on RSSCN7's validation photos** ({report.ThemePhotos}; the theme section must name the class): {F(report.ThemeAccuracy)} %").AppendLine();
        sb.AppendLine($"| {string.Join(" | ", report.ThemeAccuracyPerClass.Keys)} |").AppendLine($"|{string.Concat(Enumerable.Repeat("---|", report.ThemeAccuracyPerClass.Count))}");
        sb.AppendLine($"| {string.Join(" | ", report.ThemeAccuracyPerClass.Values.Select(F))} |").AppendLine();
        sb.AppendLine("By RSSCN7's scale (training photos are at scales 1–3; 4, the farthest, only in zoomed-out mosaics): " +
            string.Join(", ", report.ThemeAccuracyPerScale.Select(s => $"scale {s.Key} ({s.Value.Photos} photos) {F(s.Value.Accuracy)} %")) + ".").AppendLine();
        sb.AppendLine($"**Empty output** over every caption ({string.Join(", ", report.Captions.Select(c => $"{c.Images} {c.Name}"))}, {report.ThemePhotos} RSSCN7) and question above: " +
            $"sections {string.Join(", ", report.EmptySectionShare.Select(e => $"{e.Key} {F(e.Value)} %"))}; answers {F(report.EmptyAnswerShare)} %. " +
            $"Sections that only repeat an earlier section (kept in the section, once in the caption): {string.Join(", ", report.RepeatSectionShare.Select(e => $"{e.Key} {F(e.Value)} %"))}.");
        return sb.ToString();
    }
}
