using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using RsMoe.Data.Datasets;
using RsMoe.Evaluation.Captions;
using RsMoe.Evaluation.Vqa;
using RsMoe.Model.Vision;

namespace RsMoe.Cli.Commands;

/// <summary><c>rsmoe eval captions|vqa</c>: score predictions against a data set's references.</summary>
public static class EvalCommands
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create() => new("eval", "Score predictions with the COCO caption metrics or VQA accuracy") { Captions(), Vqa(), Model(), Themes(), Real(), Likelihood(), Probe() };

    static Command Themes()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "RS-MoE model folder (default: models/default)" };
        var rsscn7 = new Option<DirectoryInfo>("--rsscn7") { Required = true, Description = "RSSCN7 folder (split.json, images/)" };
        var split = new Option<string>("--split") { DefaultValueFactory = _ => "val" };
        var perClass = new Option<int>("--per-class") { DefaultValueFactory = _ => 0, Description = "Photos per class (0 = all)" };
        var command = new Command("themes", "Theme accuracy on real RSSCN7 photographs") { model, rsscn7, split, perClass };
        command.SetAction(parse =>
        {
            var (accuracy, perClassAccuracy, images) = RsMoe.Training.ThemeAccuracy.Run(parse.GetValue(model)?.FullName ?? LocalInferenceCommands.DefaultModelDirectory(),
                parse.GetValue(rsscn7)!.FullName, parse.GetValue(split)!, parse.GetValue(perClass), Console.Error.WriteLine);
            Console.WriteLine(JsonSerializer.Serialize(new { accuracy, images, per_class = perClassAccuracy }));
            return 0;
        });
        return command;
    }

    static Command Real()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "RS-MoE model folder (default: models/default)" };
        var shared = new Option<DirectoryInfo>("--shared-data") { DefaultValueFactory = _ => new DirectoryInfo("../shared/data"), Description = "Shared data folder (UCM-captions, RSICD, RSIVQA, RSSCN7)" };
        var output = new Option<DirectoryInfo>("--out") { Required = true, Description = "Where scores.json, scores.md and predictions.json go" };
        var cache = new Option<DirectoryInfo?>("--feature-cache") { Description = "Image-feature cache folder (default: runs/feature-cache)" };
        var max = new Option<int>("--max-images") { DefaultValueFactory = _ => 0, Description = "Only the first N images of each split (0 = all)" };
        var penalty = new Option<double?>("--repetition-penalty") { Description = "Captions' repetition penalty (default: the product's)" };
        var beams = new Option<int?>("--num-beams") { Description = "Captions' beam width (default: the product's)" };
        var weights = LocalInferenceCommands.WeightsOption();
        var orientations = new Option<int?>("--image-orientations") { Description = "Orientations of each photo the image encoder averages: 1, 2, 4 or 8 (default: the model's)" };
        var command = new Command("real", "Captions on UCM-captions and RSICD test, RSIVQA accuracy, RSSCN7 theme accuracy and empty outputs, beside published scores")
        {
            model, shared, output, cache, max, penalty, beams, weights, orientations,
        };
        command.SetAction(parse =>
        {
            try
            {
                var report = RsMoe.Training.RealImageryEvaluation.Run(parse.GetValue(model)?.FullName ?? LocalInferenceCommands.DefaultModelDirectory(),
                    parse.GetValue(shared)!.FullName, parse.GetValue(output)!.FullName, parse.GetValue(cache)?.FullName ?? Path.GetFullPath("runs/feature-cache"),
                    parse.GetValue(max), Console.Error.WriteLine,
                    CaptionOptions(parse.GetValue(penalty), parse.GetValue(beams)), RsMoe.Model.Decoding.DecodeWeightFormats.Parse(parse.GetValue(weights)!),
                    parse.GetValue(orientations));
                Console.WriteLine(RsMoe.Training.RealImageryEvaluation.Markdown(report));
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
            {
                return CliErrors.Report(e, false);
            }
        });
        return command;
    }

    static Command Likelihood()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "RS-MoE model folder (default: models/default)" };
        var shared = new Option<DirectoryInfo>("--shared-data") { DefaultValueFactory = _ => new DirectoryInfo("../shared/data"), Description = "Shared data folder (UCM-captions and RSICD caption files)" };
        var max = new Option<int>("--max-sentences") { DefaultValueFactory = _ => 2000, Description = "Test reference sentences scored (distinct, in file order)" };
        var formats = new Option<string>("--weights") { DefaultValueFactory = _ => "full,q8_0", Description = $"Decode-weight formats to compare ({RsMoe.Model.Decoding.DecodeWeightFormats.Names})" };
        var output = new Option<FileInfo?>("--out") { Description = "Write the scores as JSON here" };
        var command = new Command("likelihood", "Next-token log-likelihood of the UCM-captions and RSICD test captions under the base LLM and each expert, per decode-weight format")
        {
            model, shared, max, formats, output,
        };
        command.SetAction(parse =>
        {
            try
            {
                string directory = parse.GetValue(model)?.FullName ?? LocalInferenceCommands.DefaultModelDirectory();
                var weightFormats = parse.GetValue(formats)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(RsMoe.Model.Decoding.DecodeWeightFormats.Parse).ToList();
                var sentences = new RsMoe.Data.Datasets.RealImagery(parse.GetValue(shared)!.FullName).TestReferences().Distinct().Take(parse.GetValue(max)).ToList();
                using var loaded = RsMoe.Model.Moe.ModelFolder.Load(directory);
                var tokenizer = RsMoe.Model.Moe.ModelFolder.LoadLlmTokenizer(directory, loaded.Config);
                int? eos = loaded.Base.Config.EosTokenId is [var first, ..] ? first : null;
                // The sentence and its end: a caption that does not know where to stop scores worse.
                var ids = sentences.Select(s => (IReadOnlyList<int>)[.. tokenizer.Encode(s, addSpecialTokens: true), .. eos is { } e ? new[] { e } : []]).ToList();
                var models = new[] { ("base", loaded.Base) }.Concat(loaded.Experts.Select(e => (e.Key, e.Value))).ToList();
                var rows = new List<object>();
                var full = new Dictionary<string, double>();
                Console.WriteLine($"{sentences.Count} test sentences, {ids.Sum(i => i.Count - 1)} predicted tokens each pass");
                Console.WriteLine($"{"model",-14} {"weights",-7} {"nats/token",10} {"perplexity",10} {"change",9}");
                foreach (var format in weightFormats)
                {
                    loaded.UseDecodeWeights(format);
                    foreach (var (name, lm) in models)
                    {
                        var score = RsMoe.Model.Decoding.DecoderLikelihood.Measure(lm, ids);
                        if (format == RsMoe.Model.Decoding.DecodeWeightFormat.Full) full[name] = score.NllPerToken;
                        string change = full.TryGetValue(name, out var baseline) && format != RsMoe.Model.Decoding.DecodeWeightFormat.Full ? $"{score.NllPerToken - baseline:+0.0000;-0.0000}" : "";
                        string formatName = RsMoe.Model.Decoding.DecodeWeightFormats.Name(format);
                        Console.WriteLine($"{name,-14} {formatName,-7} {score.NllPerToken,10:F4} {score.Perplexity,10:F3} {change,9}");
                        rows.Add(new { model = name, weights = formatName, tokens = score.Tokens, sentences = score.Sequences, nll_per_token = score.NllPerToken, perplexity = score.Perplexity });
                    }
                }
                if (parse.GetValue(output) is { } file)
                    File.WriteAllText(file.FullName, JsonSerializer.Serialize(new { model = directory, rows }, Indented));
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
            {
                return CliErrors.Report(e, false);
            }
        });
        return command;
    }

    static Command Probe()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "Also probe this model's visual prefix (default: models/default; --no-model skips it)" };
        var noModel = new Option<bool>("--no-model") { Description = "Probe the image features only" };
        var shared = new Option<DirectoryInfo>("--shared-data") { DefaultValueFactory = _ => new DirectoryInfo("../shared/data"), Description = "Shared data folder (UCM-captions, RSICD, RSSCN7)" };
        var cache = new Option<DirectoryInfo?>("--feature-cache") { Description = "Image-feature cache folder (default: runs/feature-cache)" };
        var output = new Option<FileInfo?>("--out") { Description = "Write the scores, per class too, as JSON here" };
        var encoder = new Option<string?>("--image-encoder")
        {
            Description = $"With --no-model: the image features to probe ({string.Join(", ", ImageBackbone.Names.Where(n => n != ImageBackbone.InstructBlipVision))}; default {ImageBackbone.ResNet18})",
        };
        var tune = new Option<int?>("--tune-last-block")
        {
            Description = "Instead: tune ResNet-18's last residual block for this many epochs on the train photos' scene classes and probe its output before and after",
        };
        var saveBlock = new Option<FileInfo?>("--save-block") { Description = "With --tune-last-block: write the tuned block here (safetensors)" };
        var command = new Command("probe", "How well a linear classifier names the scene from the image features and from a model's visual prefix (train split to test split)")
        {
            model, noModel, shared, cache, output, encoder, tune, saveBlock,
        };
        command.SetAction(parse =>
        {
            try
            {
                string featureCache = parse.GetValue(cache)?.FullName ?? Path.GetFullPath("runs/feature-cache");
                if (parse.GetValue(tune) is { } epochs)
                {
                    var splits = RsMoe.Training.LinearProbe.StandardSplits(parse.GetValue(shared)!.FullName);
                    var (block, scores) = RsMoe.Training.LastBlockTuning.TuneAndProbe(splits, featureCache, new() { Epochs = epochs }, Console.Error.WriteLine);
                    using (block)
                    {
                        Console.WriteLine(RsMoe.Training.LastBlockTuning.Markdown(scores));
                        if (parse.GetValue(saveBlock) is { } blockFile)
                            RsMoe.Model.Checkpoints.SafetensorsWriter.Save(blockFile.FullName, block.state_dict());
                        if (parse.GetValue(output) is { } tuneFile)
                            File.WriteAllText(tuneFile.FullName, JsonSerializer.Serialize(new { tune_last_block_epochs = epochs, benchmarks = scores }, Indented));
                    }
                    return 0;
                }
                string? directory = parse.GetValue(noModel) ? null : parse.GetValue(model)?.FullName ?? LocalInferenceCommands.DefaultModelDirectory();
                var results = RsMoe.Training.LinearProbe.Run(RsMoe.Training.LinearProbe.StandardSplits(parse.GetValue(shared)!.FullName),
                    featureCache, directory, Console.Error.WriteLine, parse.GetValue(encoder));
                Console.WriteLine(RsMoe.Training.LinearProbe.Markdown(results));
                if (parse.GetValue(output) is { } file)
                    File.WriteAllText(file.FullName, JsonSerializer.Serialize(new { model = directory, image_encoder = directory is null ? parse.GetValue(encoder) ?? ImageBackbone.ResNet18 : null, benchmarks = results }, Indented));
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
            {
                return CliErrors.Report(e, false);
            }
        });
        return command;
    }

    /// <summary>The product's caption settings with what the command line overrides, or null when it overrides nothing.</summary>
    static RsMoe.Model.Generation.GenerationOptions? CaptionOptions(double? repetitionPenalty, int? beams)
    {
        if (repetitionPenalty is null && beams is null) return null;
        var options = RsMoe.Model.Moe.InProcessCaptioner.DefaultCaptionOptions;
        if (repetitionPenalty is { } p) options = options with { RepetitionPenalty = p };
        if (beams is { } b) options = options with { NumBeams = b };
        return options;
    }

    static Command Model()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "RS-MoE model folder (default: models/default)" };
        var data = new Option<DirectoryInfo>("--data") { Required = true, Description = "Synthetic benchmark folder (captions.json, vqa.json, images/)" };
        var split = new Option<string>("--split") { DefaultValueFactory = _ => "test" };
        var output = new Option<DirectoryInfo>("--out") { Required = true, Description = "Where predictions and scores.json go" };
        var max = new Option<int>("--max-images") { DefaultValueFactory = _ => 0, Description = "Evaluate only the first N images (0 = all)" };
        var command = new Command("model", "Run a model over a split and score its captions and answers") { model, data, split, output, max };
        command.SetAction(parse =>
        {
            try
            {
                var report = RsMoe.Training.ModelEvaluation.Run(parse.GetValue(model)?.FullName ?? LocalInferenceCommands.DefaultModelDirectory(),
                    parse.GetValue(data)!.FullName, parse.GetValue(split)!, parse.GetValue(output)!.FullName, parse.GetValue(max), log: Console.Error.WriteLine);
                Console.WriteLine(File.ReadAllText(Path.Combine(report.OutputDirectory, "scores.json")));
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
            {
                return CliErrors.Report(e, false);
            }
        });
        return command;
    }

    static Command Captions()
    {
        var predictions = new Option<FileInfo>("--predictions") { Required = true, Description = "COCO results: [{\"image_id\", \"caption\"}]" };
        var references = new Option<FileInfo>("--references") { Required = true, Description = "Karpathy, RSICap, RSIEval or {\"images\":[{\"id\",\"references\"}]} JSON" };
        var split = new Option<string?>("--split") { Description = "Split of a Karpathy file (default test; 'all' for every image)" };
        var meteorData = new Option<DirectoryInfo?>("--meteor-data") { Description = "METEOR 1.5's data when you have it: function/english.words, synonym/english.{exceptions,synsets}, paraphrase-en.gz" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var noTokenize = new Option<bool>("--no-ptb") { Description = "Captions are already tokenised: skip the PTB tokeniser" };
        var command = new Command("captions", "BLEU-1..4, METEOR, ROUGE-L and CIDEr-D as the COCO caption toolkit computes them")
        {
            predictions, references, split, meteorData, json, noTokenize,
        };
        command.SetAction(parse =>
        {
            bool asJson = parse.GetValue(json);
            try
            {
                var dataset = DatasetReader.Read(parse.GetValue(references)!.FullName);
                string? wanted = parse.GetValue(split) ?? (dataset.Format == "karpathy" ? "test" : null);
                var refs = dataset.Split(wanted).Where(i => i.Captions.Count > 0)
                    .ToDictionary(i => i.Id, i => (IReadOnlyList<string>)i.Captions);
                var candidates = ReadCocoResults(parse.GetValue(predictions)!.FullName);
                var unknown = candidates.Keys.Where(k => !refs.ContainsKey(k)).Take(5).ToList();
                if (unknown.Count > 0)
                    throw new ArgumentException($"predictions name images the references (split {wanted ?? "all"}) lack: {string.Join(", ", unknown)}");
                var meteor = Meteor.FromDataDirectory(parse.GetValue(meteorData)?.FullName);
                var scores = new CaptionEvaluator(meteor).Score(candidates, refs, tokenize: !parse.GetValue(noTokenize));
                if (asJson)
                {
                    var output = new JsonObject();
                    foreach (var (metric, value) in scores.Corpus) output[metric] = value;
                    output["meteor_modules"] = scores.MeteorModules;
                    output["images"] = candidates.Count;
                    output["per_image"] = JsonSerializer.SerializeToNode(scores.PerImage);
                    Console.WriteLine(output.ToJsonString());
                }
                else
                {
                    Console.WriteLine($"{candidates.Count} images scored against {dataset.Name} ({wanted ?? "all"}); METEOR modules: {scores.MeteorModules}");
                    foreach (var (metric, value) in scores.Corpus) Console.WriteLine($"{metric,-8} {value * 100,8:F2}");
                }
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or JsonException)
            {
                return CliErrors.Report(e, asJson);
            }
        });
        return command;
    }

    static Dictionary<string, string> ReadCocoResults(string path)
    {
        var root = JsonNode.Parse(File.ReadAllText(path)) as JsonArray
            ?? throw new InvalidDataException($"{path}: predictions must be a JSON array of {{\"image_id\", \"caption\"}}");
        var result = new Dictionary<string, string>();
        foreach (var item in root)
        {
            var id = item?["image_id"] ?? throw new InvalidDataException($"{path}: a prediction lacks image_id");
            string key = id.GetValueKind() == JsonValueKind.String ? id.GetValue<string>() : id.ToJsonString();
            if (!result.TryAdd(key, item["caption"]?.GetValue<string>() ?? throw new InvalidDataException($"{path}: prediction '{key}' lacks caption")))
                throw new InvalidDataException($"{path}: image '{key}' is predicted twice");
        }
        return result;
    }

    static Command Vqa()
    {
        var predictions = new Option<FileInfo>("--predictions") { Required = true, Description = "[{\"question_id\", \"answer\"}] or [{\"image_id\"|\"filename\", \"question\", \"answer\"}]" };
        var references = new Option<FileInfo>("--references") { Required = true, Description = "RSIEval annotations.json or the synthetic vqa.json" };
        var split = new Option<string?>("--split") { Description = "Only this split" };
        var json = new Option<bool>("--json");
        var command = new Command("vqa", "Accuracy per question type and on average") { predictions, references, split, json };
        command.SetAction(parse =>
        {
            bool asJson = parse.GetValue(json);
            try
            {
                var dataset = DatasetReader.Read(parse.GetValue(references)!.FullName);
                var images = dataset.Split(parse.GetValue(split)).ToList();
                var questions = images.SelectMany(i => i.QaPairs.Select(q => (Id: q.Id, q.Type, q.Answer, ImageId: i.Id, i.FileName, q.Question))).ToList();
                if (questions.Count == 0) throw new ArgumentException("the references hold no question-answer pairs");
                var byImageQuestion = new Dictionary<(string, string), string>();
                foreach (var q in questions)
                {
                    byImageQuestion.TryAdd((q.ImageId, q.Question), q.Id);
                    byImageQuestion.TryAdd((q.FileName, q.Question), q.Id);
                }
                var answers = ReadVqaPredictions(parse.GetValue(predictions)!.FullName, byImageQuestion);
                var scores = VqaEvaluator.Score(questions.Select(q => (q.Id, q.Type, q.Answer)), answers);
                if (asJson)
                {
                    Console.WriteLine(JsonSerializer.Serialize(new
                    {
                        accuracy = scores.Overall, mean_over_types = scores.MeanOverTypes, per_type = scores.PerType,
                        questions_per_type = scores.CountPerType, questions = scores.Questions, missing = scores.Missing,
                    }));
                }
                else
                {
                    foreach (var (type, accuracy) in scores.PerType) Console.WriteLine($"{type,-16} {accuracy * 100,7:F2}  ({scores.CountPerType[type]} questions)");
                    Console.WriteLine($"{"average",-16} {scores.Overall * 100,7:F2}  (mean over types {scores.MeanOverTypes * 100:F2}; {scores.Missing} unanswered)");
                }
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or JsonException)
            {
                return CliErrors.Report(e, asJson);
            }
        });
        return command;
    }

    static Dictionary<string, string> ReadVqaPredictions(string path, IReadOnlyDictionary<(string, string), string> byImageQuestion)
    {
        var root = JsonNode.Parse(File.ReadAllText(path)) as JsonArray ?? throw new InvalidDataException($"{path}: predictions must be a JSON array");
        var result = new Dictionary<string, string>();
        foreach (var item in root)
        {
            string answer = item?["answer"]?.GetValue<string>() ?? throw new InvalidDataException($"{path}: a prediction lacks 'answer'");
            string? id = item["question_id"]?.GetValue<string>();
            if (id is null)
            {
                string image = item["image_id"]?.ToString() ?? item["filename"]?.GetValue<string>() ?? throw new InvalidDataException($"{path}: a prediction has neither question_id nor image_id/filename");
                string question = item["question"]?.GetValue<string>() ?? throw new InvalidDataException($"{path}: a prediction lacks 'question'");
                if (!byImageQuestion.TryGetValue((image, question), out id)) throw new ArgumentException($"prediction for unknown question '{question}' on '{image}'");
            }
            result[id] = answer;
        }
        return result;
    }
}
