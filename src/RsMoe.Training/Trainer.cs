using System.Diagnostics;
using System.Text.Json;
using RsMoe.Model.Lora;
using RsMoe.Model.Moe;
using RsMoe.Model.Tokenizers;
using RsMoe.Model.Vision;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Training;

/// <summary>Where a run stands: enough to resume it exactly.</summary>
public sealed record TrainerState(string Stage, int Epoch, int StepInEpoch, int GlobalStep, List<double> Losses);

/// <summary>What a finished run reports.</summary>
public sealed record TrainingReport(string ModelDirectory, double Seconds, IReadOnlyDictionary<string, (double First, double Last)> LossByStage, int FeatureCacheHits, int FeatureCacheMisses);

/// <summary>
/// Trains RS-MoE in two stages (or one) on cached image features: AdamW, linear warm-up then cosine decay,
/// gradient accumulation and clipping, checkpoints with exact resume (weights, optimiser, schedule position,
/// data order and the random state are all functions of the saved step), progress lines, per-epoch metrics and a
/// loss-curve PNG.
/// </summary>
public sealed class Trainer
{
    readonly TrainingConfig _config;
    readonly Action<string> _log;

    public Trainer(TrainingConfig config, Action<string>? log = null)
    {
        TokenDropout.EnsureShare(config.VisualTokenDropout, "visual_token_dropout");
        CaptionLoss.EnsurePerExampleShare(config.Stage2PerExampleShare);
        _config = config;
        _log = log ?? (line => Console.Error.WriteLine(line));
    }

    public TrainingReport Run(string? resumeFrom = null)
    {
        var clock = Stopwatch.StartNew();
        _ = SquareOrientation.First(_config.ImageOrientations);   // a bad count fails now, not after an hour of training
        Directory.CreateDirectory(_config.Output);
        File.WriteAllText(Path.Combine(_config.Output, "config.json"), _config.ToJson());
        var (stage1, stage2) = TrainingSamples.Build(_config);
        if (stage1.Count == 0) throw new InvalidDataException($"no training images under {_config.Data ?? _config.RealData}");
        _log($"examples: stage I {stage1.Count}, stage II {stage2.Count} ({stage2.Count(s => s.IsQuestion)} questions; per expert {string.Join("/", Enumerable.Range(0, _config.Experts).Select(e => stage2.Count(s => s.Expert == e && !s.IsQuestion)))} sentences)");

        using var backbone = ImageBackbone.Create(PaperScale ? ImageBackbone.InstructBlipVision : _config.ImageEncoder, _config.InstructBlip);
        var cache = new FeatureCache(_config.FeatureCache ?? Path.Combine(_config.Output, "..", "feature-cache"), backbone.Encoder, backbone.Preprocessing);
        var features = new Dictionary<string, Tensor>();
        foreach (var sample in stage1.Concat(stage2).DistinctBy(s => s.ViewKey))
            features[sample.ViewKey] = (sample.MosaicWith is null ? cache.GetTurned(sample.ImagePath, sample.Turn) : cache.GetMosaic(sample.Images)).DetachFromDisposeScope();
        _log($"features: {features.Count} views ({cache.Hits} cached, {cache.Misses} encoded; {features.Keys.Count(k => k.StartsWith("mosaic:", StringComparison.Ordinal))} mosaics, {features.Keys.Count(k => k.StartsWith("turn", StringComparison.Ordinal))} turned)");

        TrainerState? state = resumeFrom is null ? null : JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(resumeFrom, "trainer_state.json")));
        var corpus = _config.RealData is { } root && _config.Stage0Epochs > 0 ? new RsMoe.Data.Datasets.RealImagery(root).Corpus() : null;
        if (corpus is not null)
            _log($"stage0 text: {corpus.Texts.Count} texts ({string.Join(", ", corpus.TextsPerFile.Select(f => $"{f.Key} {f.Value}"))}); {corpus.HeldOut} of {corpus.Sentences} sentences left out as test references");
        using var model = state is null ? NewModel(stage1, stage2, corpus?.Texts ?? [], backbone.Encoder.TokenWidth) : ModelFolder.Load(Path.Combine(resumeFrom!, "model"), mergeAdapters: false);
        var losses = new Dictionary<string, (double, double)>();

        if (corpus is not null && _config.Stage is "two-stage" or "stage1" or "one-stage" && (state is null || state.Stage == "stage0"))
        {
            // Stage 0: the language model learns caption text alone, the analogue of the paper's pretrained LLM.
            var texts = corpus.Texts;
            var curve = RunStage("stage0", model, texts.Count, rows => Stage0Loss(model, rows.Select(i => texts[i]).ToList()),
                _config.Stage0Epochs, _config.Stage0LearningRate, _config.Stage0BatchSize, _config.MaxSteps, state, resumeFrom,
                arrange: order => BucketByLength(order, i => texts[i].Length, _config.Stage0BatchSize));
            losses["stage0"] = (curve.First(), curve.Last());
            state = null;
        }

        bool twoStage = _config.Stage is "two-stage" or "stage1";
        if (twoStage && (state is null || state.Stage == "stage1"))
        {
            string? restoreFrom = state?.Stage == "stage1" ? resumeFrom : null;
            using var fromPrefix = NewSceneHead(stage1, model, SceneHead.FromPrefix, _config.SceneLossWeight, restoreFrom);
            using var fromCaption = NewSceneHead(stage1, model, SceneHead.FromCaption, _config.CaptionSceneLossWeight, restoreFrom);
            var curve = RunStage("stage1", model, stage1.Count, rows => Stage1Loss(model, rows.Select(i => stage1[i]).ToList(), features, fromPrefix, fromCaption, _config.VisualTokenDropout),
                _config.Epochs, _config.LearningRate, _config.BatchSize, _config.MaxSteps, state?.Stage == "stage1" ? state : null, resumeFrom,
                sceneHeads: new[] { fromPrefix, fromCaption }.OfType<SceneHead>().ToList());
            losses["stage1"] = (curve.First(), curve.Last());
            // Stage I adapters become part of the weights every expert starts from.
            LoraInjector.Merge(model.Encoder);
            LoraInjector.Merge(model.Base);
            state = null;
        }
        if (_config.Stage is "two-stage" or "stage2" or "one-stage")
        {
            if (state is null || model.Experts.Count == 0) model.StartExperts();   // adapters start from a fixed seed
            var curve = RunStage("stage2", model, stage2.Count, rows => Stage2Loss(model, rows.Select(i => stage2[i]).ToList(), features, _config.VisualTokenDropout, _config.Stage2PerExampleShare),
                _config.Stage2Epochs, _config.Stage2LearningRate, _config.BatchSize, _config.Stage2MaxSteps ?? _config.MaxSteps, state?.Stage == "stage2" ? state : null, resumeFrom);
            losses["stage2"] = (curve.First(), curve.Last());
        }
        string final = Path.Combine(_config.Output, "model");
        ModelFolder.Save(model, final);
        foreach (var f in features.Values) f.Dispose();
        _log($"saved {final} after {clock.Elapsed.TotalMinutes:F1} min");
        return new TrainingReport(final, clock.Elapsed.TotalSeconds, losses, cache.Hits, cache.Misses);
    }

    /// <summary>
    /// One of Stage I's scene classifiers (<see cref="SceneClassifier"/>) with its weight beside the caption loss and
    /// its checkpoint file; <see cref="FromPrefix"/> reads the visual prefix, <see cref="FromCaption"/> the language
    /// model's caption state.
    /// </summary>
    sealed record SceneHead(SceneClassifier Classifier, double Weight, string File) : IDisposable
    {
        public const string FromPrefix = "scene_classifier.bin";
        public const string FromCaption = "caption_scene_classifier.bin";
        public void Dispose() => Classifier.Dispose();
    }

    /// <summary>A scene head when <paramref name="weight"/> is above zero and the examples name scenes; restored on resume.</summary>
    SceneHead? NewSceneHead(List<TrainingSample> stage1, RsMoeModel model, string file, double weight, string? resumeFrom)
    {
        if (weight <= 0 || !stage1.Any(s => s.Scene is not null)) return null;
        var classifier = new SceneClassifier(stage1.Select(s => s.Scene).OfType<string>(), model.Config.Llm.HiddenSize);
        classifier.to(model.Device);
        string saved = resumeFrom is null ? "" : Path.Combine(resumeFrom, file);
        if (File.Exists(saved)) classifier.load(saved);
        _log($"scene loss ({(file == SceneHead.FromPrefix ? "visual prefix" : "caption state")}): {classifier.Classes} classes, weight {weight}");
        return new SceneHead(classifier, weight, file);
    }

    /// <summary>InstructBLIP's vision model and Q-Former with a pretrained Llama (the config's <c>instructblip</c>, or the model config's own name for it).</summary>
    bool PaperScale => _config.ImageEncoder is "instructblip" or ImageBackbone.InstructBlipVision;

    /// <summary>The paper-scale model: InstructBLIP's Q-Former, queries and projection, a pretrained Llama, their tokenizers.</summary>
    RsMoeModel PretrainedModel()
    {
        string blip = _config.InstructBlip ?? throw new ArgumentException("instruct_blip is required with image_encoder instructblip");
        string llmDirectory = _config.Llm ?? throw new ArgumentException("llm (a LlamaForCausalLM folder) is required with image_encoder instructblip");
        var blipConfig = RsMoe.Model.Configs.InstructBlipConfig.Load(blip);
        var llm = RsMoe.Model.Llm.LlamaForCausalLM.FromPretrained(llmDirectory);
        var router = new RsMoe.Model.Router.RouterConfig { ExpertRoles = TrainingSamples.Roles(_config.Experts) };
        if (_config.Experts != 3) router = router with { InitialPrompts = TrainingSamples.Roles(_config.Experts).ToDictionary(r => r, r => $"Describe the {r} of this image.") };
        var (encoder, report) = RsMoe.Model.Checkpoints.InstructBlipCheckpoint.LoadVlmEncoder(blip, router, llmHiddenSize: llm.Config.HiddenSize);
        _log($"VLM encoder from {blip}: {report.Loaded} tensors loaded, new: {string.Join(", ", report.Missing.Select(k => k.Split('.')[0]).Distinct())}");
        string vocab = Path.Combine(blip, "qformer_tokenizer", "vocab.txt");
        if (!File.Exists(vocab)) throw new FileNotFoundException($"the Q-Former's tokenizer vocabulary is missing: {vocab}");
        var config = new RsMoeConfig
        {
            ImageEncoder = ImageBackbone.InstructBlipVision, VisionCheckpoint = Path.GetFullPath(blip), VisionHiddenSize = blipConfig.VisionConfig.HiddenSize, QFormer = blipConfig.QformerConfig,
            NumQueryTokens = blipConfig.NumQueryTokens, Llm = llm.Config, Router = encoder.RouterConfig, LlmVocabulary = "none",
        };
        var tokenizerFiles = new[] { "tokenizer.model", "tokenizer.gpt2", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" }
            .Select(f => Path.Combine(llmDirectory, f)).Where(File.Exists).ToList();
        return RsMoeModel.FromParts(config, encoder, llm, BertWordPieceTokenizer.FromVocabFile(vocab), TokenizerLoader.FromDirectory(llmDirectory), tokenizerFiles);
    }

    /// <param name="visionWidth">How wide the backbone's tokens are (ResNet-18's taps differ).</param>
    RsMoeModel NewModel(List<TrainingSample> stage1, List<TrainingSample> stage2, IReadOnlyList<string> stage0Texts, int visionWidth)
    {
        if (PaperScale) return PretrainedModel();
        var rolePrompts = new RsMoeConfig().Router.InitialPrompts.Values;
        var llmTexts = stage1.Concat(stage2).SelectMany(s => new[] { s.Prompt, s.Target }).Concat(stage0Texts);
        var words = WordLevelTokenizer.Build(llmTexts, _config.VocabularyMinCount, keep: rolePrompts.Concat(stage2.Select(s => s.Prompt).Distinct()));
        var instructions = BertWordPieceTokenizer.BuildVocabulary(stage1.Concat(stage2).Select(s => s.Prompt));
        var config = RsMoeConfig.EmbeddedDefault(instructions.Count, words.VocabSize);
        int heads = config.Llm.NumAttentionHeads;
        config = config with
        {
            Llm = config.Llm with
            {
                HiddenSize = _config.LlmHiddenSize, NumHiddenLayers = _config.LlmLayers, IntermediateSize = _config.LlmIntermediateSize, HeadDim = _config.LlmHiddenSize / heads,
            },
            ImageEncoder = _config.ImageEncoder,
            ImageOrientations = _config.ImageOrientations,
            VisionHiddenSize = visionWidth,
            QFormer = config.QFormer with { HiddenSize = _config.QFormerHiddenSize, IntermediateSize = 2 * _config.QFormerHiddenSize, EncoderHiddenSize = visionWidth },
            VisualSummaryToken = _config.VisualSummaryToken,
        };
        if (_config.Experts != 3)
        {
            var roles = TrainingSamples.Roles(_config.Experts);
            var prompts = roles.ToDictionary(r => r, r => r switch
            {
                "caption" => "Describe this remote sensing image in detail.",
                "theme-objects" => "Describe the scene and the objects in this image.",
                "positions" => "Describe where the objects are in the image.",
                "relations" => "Describe how the objects relate to each other.",
                _ => config.Router.InitialPrompts[r],
            });
            config = config with { Router = config.Router with { ExpertRoles = roles, InitialPrompts = prompts } };
        }
        return RsMoeModel.Create(config, instructions, words, _config.Seed);
    }

    List<Parameter> TrainableParameters(string stage, RsMoeModel model)
    {
        foreach (var (_, p) in model.Encoder.named_parameters()) p.requires_grad = false;
        foreach (var (_, p) in model.Base.named_parameters()) p.requires_grad = false;
        var trainable = new List<Parameter>();
        if (stage == "stage0")
        {
            foreach (var (_, p) in model.Base.named_parameters()) { p.requires_grad = true; trainable.Add(p); }
            return trainable;
        }
        if (stage == "stage1" && _config.Stage1Lora)
        {
            // The paper's Stage I: LoRA on the Q-Former (self-attention q/v, cross-attention, FFN) and on the LLM (q/v, FFN).
            if (!LoraInjector.Layers(model.Encoder).Any(l => l.Layer.Adapter is not null))
                LoraInjector.Attach(model.Encoder.QFormer, model.Config.ExpertLora with { TargetModules = LoraSettings.QFormerTargets });
            if (!LoraInjector.Layers(model.Base).Any(l => l.Layer.Adapter is not null))
                LoraInjector.Attach(model.Base, model.Config.ExpertLora);
            foreach (var (name, p) in model.Encoder.named_parameters().Concat(model.Base.named_parameters()))
                if (name.Contains(".lora_", StringComparison.Ordinal) || name.StartsWith("language_projection.", StringComparison.Ordinal))
                { p.requires_grad = true; trainable.Add(p); }
            return trainable;
        }
        if (stage == "stage1")
        {
            foreach (var (name, p) in model.Encoder.named_parameters())
                if (!name.StartsWith("router.", StringComparison.Ordinal)) { p.requires_grad = true; trainable.Add(p); }
            foreach (var (_, p) in model.Base.named_parameters()) { p.requires_grad = true; trainable.Add(p); }
            return trainable;
        }
        bool oneStage = _config.Stage == "one-stage";
        foreach (var (name, p) in model.Encoder.named_parameters())
            if (oneStage || name.StartsWith("router.", StringComparison.Ordinal)) { p.requires_grad = true; trainable.Add(p); }
        foreach (var expert in model.Experts.Values)
        {
            LoraInjector.FreezeAllButAdapters(expert);
            trainable.AddRange(expert.parameters().Where(p => p.requires_grad));
        }
        return trainable;
    }

    List<double> RunStage(string stage, RsMoeModel model, int sampleCount, Func<List<int>, Tensor> lossOf,
        double epochs, double learningRate, int batch, int? maxSteps, TrainerState? resume, string? resumeFrom, Func<int[], int[]>? arrange = null,
        IReadOnlyList<SceneHead>? sceneHeads = null)
    {
        var parameters = TrainableParameters(stage, model);
        foreach (var head in sceneHeads ?? []) { head.Classifier.train(); parameters.AddRange(head.Classifier.parameters()); }
        model.Encoder.train();
        if (stage == "stage2" && _config.Stage != "one-stage") model.Encoder.QFormer.eval();   // frozen, no dropout
        model.Base.train(stage is "stage0" or "stage1");
        foreach (var expert in model.Experts.Values) expert.train();
        var optimizer = optim.AdamW(parameters, learningRate, _config.Beta1, _config.Beta2, 1e-8, _config.WeightDecay);
        if (resume is not null) optimizer.load_state_dict(Path.Combine(resumeFrom!, "optimizer.bin"));

        int stepsPerEpoch = (sampleCount + batch * _config.GradientAccumulation - 1) / (batch * _config.GradientAccumulation);
        int totalSteps = Math.Min((int)Math.Ceiling(epochs * stepsPerEpoch), maxSteps ?? int.MaxValue);
        int warmup = Math.Max(1, (int)Math.Round(_config.WarmupEpochs * stepsPerEpoch));
        double LearningRateAt(int step) => step < warmup
            ? learningRate * (step + 1) / warmup
            : learningRate * 0.5 * (1 + Math.Cos(Math.PI * (step - warmup) / Math.Max(1, totalSteps - warmup)));

        var losses = resume?.Losses ?? [];
        var metrics = new List<object>();
        int globalStep = resume?.GlobalStep ?? 0;
        var clock = Stopwatch.StartNew();
        int stepsThisRun = 0;
        for (int epoch = resume?.Epoch ?? 0; epoch < epochs && globalStep < totalSteps; epoch++)
        {
            var order = Enumerable.Range(0, sampleCount).ToArray();
            new Random(_config.Seed * 7919 + epoch + stage switch { "stage2" => 100003, "stage0" => 200003, _ => 0 }).Shuffle(order);
            if (arrange is not null) order = arrange(order);
            double epochLoss = 0;
            int epochSteps = 0;
            for (int step = epoch == resume?.Epoch ? resume.StepInEpoch : 0; step < stepsPerEpoch && globalStep < totalSteps; step++)
            {
                manual_seed(_config.Seed * 1_000_003L + globalStep);   // dropout draws depend on the step alone
                double lr = LearningRateAt(globalStep);
                foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                optimizer.zero_grad();
                double stepLoss = 0;
                for (int micro = 0; micro < _config.GradientAccumulation; micro++)
                {
                    int start = (step * _config.GradientAccumulation + micro) * batch;
                    if (start >= order.Length) break;
                    var rows = order.Skip(start).Take(batch).ToList();
                    using var scope = NewDisposeScope();
                    using var autocast = RsMoe.Model.Autocast.Bf16(_config.Bf16Autocast);
                    var loss = lossOf(rows);
                    (loss / _config.GradientAccumulation).backward();
                    stepLoss += loss.item<float>() / _config.GradientAccumulation;
                }
                if (_config.GradientClip > 0) nn.utils.clip_grad_norm_(parameters, _config.GradientClip);
                optimizer.step();
                globalStep++;
                stepsThisRun++;
                losses.Add(stepLoss);
                epochLoss += stepLoss;
                epochSteps++;
                if (globalStep % 10 == 0 || globalStep == totalSteps)
                {
                    double perStep = clock.Elapsed.TotalSeconds / stepsThisRun;
                    int filled = (int)(24.0 * globalStep / totalSteps);
                    string bar = "[" + new string('#', filled) + new string('.', 24 - filled) + "]";
                    _log($"{stage} {bar} epoch {epoch + 1}/{Math.Ceiling(epochs)} step {globalStep}/{totalSteps} loss {stepLoss:F3} lr {lr:E2} " +
                         $"{batch * _config.GradientAccumulation / perStep:F1} samples/s ETA {TimeSpan.FromSeconds(perStep * (totalSteps - globalStep)):mm\\:ss}");
                }
                // Stage I's last step is saved too, so Stage II can be rerun alone with other settings (resume from
                // it): its adapters start from a fixed seed, so the rerun is the whole run's Stage II exactly. (Stage
                // I's scene heads draw from the generator as Stage 0 left it, so Stage 0's end would not resume exactly.)
                bool stageEnd = globalStep == totalSteps && stage == "stage1";
                if (_config.CheckpointEvery > 0 && (globalStep % _config.CheckpointEvery == 0 && globalStep < totalSteps || stageEnd))
                    SaveCheckpoint(model, optimizer, new TrainerState(stage, step + 1 == stepsPerEpoch ? epoch + 1 : epoch, (step + 1) % stepsPerEpoch, globalStep, losses), sceneHeads);
            }
            metrics.Add(new { stage, epoch = epoch + 1, mean_loss = epochSteps == 0 ? 0 : epochLoss / epochSteps, steps = epochSteps, seconds = Math.Round(clock.Elapsed.TotalSeconds, 1) });
        }
        if (stepsThisRun > 0)   // a stage resumed at its end ran here for nothing to record
        {
            File.WriteAllText(Path.Combine(_config.Output, $"{stage}-metrics.json"), JsonSerializer.Serialize(metrics, new JsonSerializerOptions { WriteIndented = true }));
            LossCurve.Save(Path.Combine(_config.Output, $"{stage}-loss.png"), losses);
        }
        optimizer.Dispose();
        model.Encoder.eval();
        model.Base.eval();
        foreach (var expert in model.Experts.Values) expert.eval();
        return losses;
    }

    void SaveCheckpoint(RsMoeModel model, OptimizerHelper optimizer, TrainerState state, IReadOnlyList<SceneHead>? sceneHeads)
    {
        string directory = Path.Combine(_config.Output, "checkpoints", $"step-{state.GlobalStep:D6}");
        ModelFolder.Save(model, Path.Combine(directory, "model"));
        foreach (var head in sceneHeads ?? []) head.Classifier.save(Path.Combine(directory, head.File));
        optimizer.save_state_dict(Path.Combine(directory, "optimizer.bin"));
        File.WriteAllText(Path.Combine(directory, "trainer_state.json"), JsonSerializer.Serialize(state));
        _log($"checkpoint {directory}");
    }

    /// <summary>The rows' visual tokens [B, N, width], less a <paramref name="dropout"/> share of each row's (<see cref="TokenDropout"/>).</summary>
    static Tensor Visual(List<TrainingSample> rows, Dictionary<string, Tensor> features, double dropout) =>
        TokenDropout.Keep(stack(rows.Select(r => features[r.ViewKey]).ToArray(), 0), dropout);

    /// <summary>
    /// Batches of similar length (a padded batch costs its longest row): the shuffled order is cut into windows of 64
    /// batches, each sorted by length, and the batches then run in the window's shuffled order. Deterministic.
    /// </summary>
    static int[] BucketByLength(int[] shuffled, Func<int, int> length, int batch)
    {
        var result = new List<int>(shuffled.Length);
        int window = batch * 64;
        for (int start = 0; start < shuffled.Length; start += window)
        {
            var batches = shuffled.Skip(start).Take(window).OrderBy(length).Chunk(batch).ToList();
            // Interleave so long and short batches alternate within the window, in a fixed order.
            result.AddRange(batches.Select((b, k) => (b, key: (k * 37) % batches.Count)).OrderBy(x => x.key).SelectMany(x => x.b));
        }
        return [.. result];
    }

    /// <summary>Longest text Stage 0 reads, in tokens (RSICap's longest captions are cut here).</summary>
    const int Stage0MaxTokens = 160;

    static Tensor Stage0Loss(RsMoeModel model, List<string> texts)
    {
        var tokenizer = model.LlmTokenizer;
        int eos = tokenizer.EosTokenIds[0];
        var rows = texts.Select(t => tokenizer.Encode(t, addSpecialTokens: true).Append(eos).Take(Stage0MaxTokens).Select(x => (long)x).ToArray()).ToList();
        int length = rows.Max(r => r.Length);
        var ids = new long[rows.Count * length];
        var labels = new long[rows.Count * length];
        Array.Fill(labels, -100L);
        for (int r = 0; r < rows.Count; r++)
        {
            Array.Copy(rows[r], 0, ids, r * length, rows[r].Length);
            Array.Copy(rows[r], 0, labels, r * length, rows[r].Length);
        }
        var embeds = model.Base.Embed(tensor(ids, [rows.Count, length], ScalarType.Int64, model.Device));
        return CaptionLoss.Loss(model.Base, embeds, tensor(labels, [rows.Count, length], ScalarType.Int64, model.Device));
    }

    static Tensor Stage1Loss(RsMoeModel model, List<TrainingSample> rows, Dictionary<string, Tensor> features, SceneHead? fromPrefix, SceneHead? fromCaption, double tokenDropout)
    {
        using var encoded = model.Encode(Visual(rows, features, tokenDropout), rows.Select(r => r.Prompt).ToList());
        var prefixes = Enumerable.Range(0, rows.Count).Select(i => encoded.VisualPrefix[i]).ToList();
        var (embeds, labels) = CaptionLoss.TeacherForcing(model, model.Base, prefixes, rows.Select(r => r.Prompt).ToList(), rows.Select(r => r.Target).ToList());
        var scenes = rows.Select(r => r.Scene).ToList();
        Tensor loss;
        if (fromCaption is null) loss = CaptionLoss.Loss(model.Base, embeds, labels);
        else
        {
            var (captionLoss, captionState) = CaptionLoss.LossAndCaptionState(model.Base, embeds, labels);
            loss = captionLoss + fromCaption.Classifier.Loss(captionState, scenes) * fromCaption.Weight;
        }
        return fromPrefix is null ? loss : loss + fromPrefix.Classifier.Loss(encoded.VisualPrefix.mean([1]), scenes) * fromPrefix.Weight;
    }

    static Tensor Stage2Loss(RsMoeModel model, List<TrainingSample> rows, Dictionary<string, Tensor> features, double tokenDropout, double perExampleShare)
    {
        using var encoded = model.Encode(Visual(rows, features, tokenDropout), rows.Select(r => r.Prompt).ToList());
        Tensor total = zeros(1).squeeze();
        for (int e = 0; e < model.Config.Router.NumExperts; e++)
        {
            var mine = Enumerable.Range(0, rows.Count).Where(i => rows[i].Expert == e).ToList();
            if (mine.Count == 0) continue;
            var expert = model.Experts[model.Config.Router.ExpertRoles[e]];
            var prefixes = mine.Select(i => encoded.ExpertPrefix(i, e)).ToList();
            var (embeds, labels) = CaptionLoss.TeacherForcing(model, expert, prefixes, mine.Select(i => rows[i].Prompt).ToList(), mine.Select(i => rows[i].Target).ToList());
            var loss = CaptionLoss.Blended(expert, embeds, labels, perExampleShare);
            total = total + loss * (mine.Count / (double)rows.Count);
        }
        var questions = Enumerable.Range(0, rows.Count).Where(i => rows[i].IsQuestion).ToList();
        if (questions.Count > 0)
        {
            var index = tensor(questions.Select(i => (long)i).ToArray());
            var targets = tensor(questions.Select(i => (long)rows[i].Expert).ToArray());
            total = total + nn.functional.cross_entropy(encoded.Routing.GateLogits.index_select(0, index), targets) * (questions.Count / (double)rows.Count);
        }
        return total;
    }
}
