using System.Diagnostics;
using System.Text.Json;
using RsMoe.Data.Datasets;
using RsMoe.Evaluation.Captions;
using RsMoe.Evaluation.Vqa;
using RsMoe.Model.Generation;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;

namespace RsMoe.Training;

/// <summary>Scores of a model on one split: caption metrics, VQA accuracy by type, and where the predictions were written.</summary>
public sealed record EvaluationReport(CaptionScores? Captions, VqaScores? Vqa, int Images, double Seconds, string OutputDirectory);

/// <summary>Runs a model over a data set split and scores its captions and answers with the data issue's metrics.</summary>
public static class ModelEvaluation
{
    public static EvaluationReport Run(string modelDirectory, string dataDirectory, string split, string outputDirectory, int maxImages = 0,
        string? featureCache = null, Action<string>? log = null)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(outputDirectory);
        using var model = ModelFolder.Load(modelDirectory);
        using var backbone = ImageBackbone.For(model.Config);
        var cache = new FeatureCache(featureCache ?? Path.Combine(outputDirectory, "feature-cache"), backbone.Encoder, backbone.Preprocessing);
        var captions = DatasetReader.Read(Path.Combine(dataDirectory, "captions.json"));
        string vqaPath = Path.Combine(dataDirectory, "vqa.json");
        var vqa = File.Exists(vqaPath) ? DatasetReader.Read(vqaPath).Images.ToDictionary(i => i.Id) : [];
        var images = captions.Split(split).ToList();
        if (maxImages > 0) images = images.Take(maxImages).ToList();

        var predictedCaptions = new Dictionary<string, string>();
        var references = new Dictionary<string, IReadOnlyList<string>>();
        var answers = new Dictionary<string, string>();
        var questions = new List<(string Id, string Type, string Reference)>();
        var records = new List<object>();
        var options = new GenerationOptions { MaxNewTokens = 90, RepetitionPenalty = 1.05 };
        foreach (var image in images)
        {
            using var tokens = cache.Get(Path.Combine(dataDirectory, image.FileName)).unsqueeze(0);
            var caption = model.Caption(tokens, image.Instruction ?? RsMoe.Captions.CaptionPolicy.Instruction, options);
            predictedCaptions[image.Id] = caption.Caption;
            references[image.Id] = image.Captions;
            records.Add(new { image_id = image.Id, caption = caption.Caption, sections = caption.Sections.Select(s => new { aspect = s.Aspect, text = s.Text }) });
            if (vqa.TryGetValue(image.Id, out var qa))
                foreach (var q in qa.QaPairs)
                {
                    answers[q.Id] = model.Ask(tokens, q.Question).Answer;
                    questions.Add((q.Id, q.Type, q.Answer));
                }
            if (predictedCaptions.Count % 20 == 0) log?.Invoke($"evaluated {predictedCaptions.Count}/{images.Count} images");
        }
        var captionScores = predictedCaptions.Count > 0 ? new CaptionEvaluator().Score(predictedCaptions, references) : null;
        var vqaScores = questions.Count > 0 ? VqaEvaluator.Score(questions, answers) : null;
        var json = new JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(outputDirectory, "captions-predictions.json"), JsonSerializer.Serialize(records, json));
        File.WriteAllText(Path.Combine(outputDirectory, "vqa-predictions.json"), JsonSerializer.Serialize(answers.Select(a => new { question_id = a.Key, answer = a.Value }), json));
        File.WriteAllText(Path.Combine(outputDirectory, "scores.json"), JsonSerializer.Serialize(new
        {
            split, images = images.Count,
            captions = captionScores?.Corpus, meteor_modules = captionScores?.MeteorModules,
            vqa = vqaScores is null ? null : new { accuracy = vqaScores.Overall, mean_over_types = vqaScores.MeanOverTypes, per_type = vqaScores.PerType, questions = vqaScores.Questions },
        }, json));
        return new EvaluationReport(captionScores, vqaScores, images.Count, clock.Elapsed.TotalSeconds, outputDirectory);
    }
}
