using RsMoe.Model.Checkpoints;
using RsMoe.Model.Llm;
using RsMoe.Model.Lora;
using RsMoe.Model.QFormer;
using RsMoe.Model.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Moe;

/// <summary>
/// The one owner of a model folder's layout: <c>rsmoe_config.json</c>, <c>vlm_encoder.safetensors</c> (the Q-Former
/// with the router), <c>llm/</c> (the Stage I language model in Hugging Face layout), <c>experts/{role}/</c> (one PEFT
/// adapter per role, so one expert can be retrained and swapped alone) and the two vocabularies. Everything that reads
/// or writes a model folder — the trainer, the three services, the CLI and the benchmarks — goes through here.
/// </summary>
public static class ModelFolder
{
    public const string ConfigFile = "rsmoe_config.json";
    public const string VlmEncoderFile = "vlm_encoder.safetensors";
    public const string LanguageModelFolder = "llm";
    public const string ExpertsFolder = "experts";

    public static string ConfigPath(string directory) => Path.Combine(directory, ConfigFile);
    public static string VlmEncoderPath(string directory) => Path.Combine(directory, VlmEncoderFile);
    public static string LanguageModelPath(string directory) => Path.Combine(directory, LanguageModelFolder);
    public static string ExpertsPath(string directory) => Path.Combine(directory, ExpertsFolder);
    public static string AdapterPath(string directory, string role) => Path.Combine(directory, ExpertsFolder, role);

    /// <summary>Whether <paramref name="directory"/> holds a model (its config is there).</summary>
    public static bool IsModelFolder(string directory) => File.Exists(ConfigPath(directory));

    /// <summary>A model folder's config; a clear error when the folder is not one.</summary>
    public static RsMoeConfig LoadConfig(string directory)
    {
        string configPath = ConfigPath(directory);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"'{directory}' is not an RS-MoE model folder (no {ConfigFile})", configPath);
        return RsMoeConfig.Load(configPath);
    }

    public static void SaveConfig(string directory, RsMoeConfig config)
    {
        Directory.CreateDirectory(directory);
        config.Save(ConfigPath(directory));
    }

    public static BertWordPieceTokenizer LoadInstructionTokenizer(string directory, RsMoeConfig config) =>
        BertWordPieceTokenizer.FromVocabulary(File.ReadAllLines(Path.Combine(directory, config.InstructionVocabulary)));

    /// <summary>The word-level vocabulary of a model trained here, else the tokenizer files beside the LLM.</summary>
    public static ITextTokenizer LoadLlmTokenizer(string directory, RsMoeConfig config) =>
        File.Exists(Path.Combine(directory, config.LlmVocabulary))
            ? WordLevelTokenizer.Load(Path.Combine(directory, config.LlmVocabulary))
            : TokenizerLoader.FromDirectory(LanguageModelPath(directory));

    /// <summary>The VLM encoder with the router, every key checked, in eval mode.</summary>
    public static VlmEncoder LoadVlmEncoder(string directory, RsMoeConfig config)
    {
        var encoder = new VlmEncoder(config.QFormer, config.NumQueryTokens, config.Llm.HiddenSize, config.Router, config.VisualSummaryToken);
        using (var checkpoint = CheckpointDirectory.Open(VlmEncoderPath(directory)))
            StateDictLoader.Load(encoder, checkpoint).EnsureComplete($"VLM encoder in {directory}");
        encoder.eval();
        return encoder;
    }

    /// <summary>The whole model: encoder, base language model and every expert.</summary>
    /// <param name="sharedBase">
    /// Hold one base model and the experts' adapters as a <see cref="LoraBank"/> instead of one merged copy per expert:
    /// a fraction of the memory, and captions decode their sections together (small deployments, the embedded default).
    /// </param>
    public static RsMoeModel Load(string directory, Device? device = null, bool mergeAdapters = true, bool sharedBase = false)
    {
        device ??= CPU;
        var config = LoadConfig(directory);
        var encoder = LoadVlmEncoder(directory, config);
        var llm = LlamaForCausalLM.FromPretrained(LanguageModelPath(directory));
        var model = new RsMoeModel(config, encoder, llm, LoadInstructionTokenizer(directory, config), LoadLlmTokenizer(directory, config), device);
        bool hasExperts = Directory.Exists(ExpertsPath(directory));
        if (hasExperts)
            foreach (var role in config.Router.ExpertRoles)
                if (!Directory.Exists(AdapterPath(directory, role))) throw new FileNotFoundException($"expert '{role}' has no adapter in {ExpertsPath(directory)}");
        if (hasExperts && !sharedBase)
            foreach (var role in config.Router.ExpertRoles)
                model.AddExpert(role, LoadExpert(config, llm, AdapterPath(directory, role), mergeAdapters));
        model.MoveTo(device);
        if (hasExperts && sharedBase)
            model.Bank = LoraBank.Load(llm, config.Router.ExpertRoles.Select(role => (role, AdapterPath(directory, role))).ToList());
        return model;
    }

    public static void Save(RsMoeModel model, string directory)
    {
        SaveConfig(directory, model.Config);
        File.WriteAllLines(Path.Combine(directory, model.Config.InstructionVocabulary), model.InstructionTokenizer.Vocabulary);
        if (model.LlmTokenizer is WordLevelTokenizer words) words.Save(Path.Combine(directory, model.Config.LlmVocabulary));
        SafetensorsWriter.Save(VlmEncoderPath(directory), model.Encoder.state_dict().Where(p => !p.Key.Contains(".lora_")),
            new Dictionary<string, string> { ["format"] = "pt" });
        model.Base.SavePretrained(LanguageModelPath(directory));
        foreach (var file in model.TokenizerFiles) File.Copy(file, Path.Combine(LanguageModelPath(directory), Path.GetFileName(file)), overwrite: true);
        foreach (var (role, expert) in model.Experts)
            PeftAdapter.Save(expert, AdapterPath(directory, role), baseModel: $"../../{LanguageModelFolder}");
    }

    /// <summary>A copy of a loaded base model plus one role's adapter, merged for inference speed unless training goes on.</summary>
    public static LlamaForCausalLM LoadExpert(RsMoeConfig config, LlamaForCausalLM baseModel, string adapterDirectory, bool merge = true)
    {
        var expert = LlamaForCausalLM.Create(config.Llm, baseModel.DType);
        StateDictLoader.Load(expert, RsMoeModel.BaseWeights(baseModel)).EnsureComplete("expert base");
        return WithAdapter(expert, adapterDirectory, merge);
    }

    /// <summary>
    /// One role's expert built straight from the folder's base language model on disk, its adapter merged: a process
    /// that serves one expert holds this one copy of the weights, not the base beside it.
    /// </summary>
    public static LlamaForCausalLM LoadExpert(string directory, string adapterDirectory, Device? device = null)
    {
        var expert = WithAdapter(LlamaForCausalLM.FromPretrained(LanguageModelPath(directory)), adapterDirectory, merge: true);
        if (device is not null && device.type != DeviceType.CPU) expert.to(device);
        return expert;
    }

    /// <summary>A base language model with one role's adapter attached (and merged); the model is disposed if the adapter does not fit.</summary>
    static LlamaForCausalLM WithAdapter(LlamaForCausalLM expert, string adapterDirectory, bool merge)
    {
        try
        {
            PeftAdapter.Load(expert, adapterDirectory);
            if (merge) LoraInjector.Merge(expert);
            expert.eval();
            return expert;
        }
        catch
        {
            expert.Dispose();
            throw;
        }
    }
}
