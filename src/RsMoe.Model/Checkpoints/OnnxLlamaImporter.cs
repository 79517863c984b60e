using System.Text.Json;
using System.Text.RegularExpressions;
using RsMoe.Model.Configs;
using static TorchSharp.torch;

namespace RsMoe.Model.Checkpoints;

/// <summary>
/// Imports the weights of a Llama exported to ONNX by onnxruntime-genai's model builder into Hugging Face
/// LlamaForCausalLM names. MatMul weights are stored [in, out] there and are transposed back.
/// </summary>
public static partial class OnnxLlamaImporter
{
    [GeneratedRegex(@"^model\.layers\.(\d+)\.attn\.(q_proj|k_proj|v_proj|o_proj)\.MatMul\.weight$")]
    private static partial Regex AttentionWeight();
    [GeneratedRegex(@"^model\.layers\.(\d+)\.mlp\.(gate_proj|up_proj|down_proj)\.MatMul\.weight$")]
    private static partial Regex MlpWeight();
    [GeneratedRegex(@"^model\.layers\.\d+\.final_norm_layernorm\.weight$")]
    private static partial Regex FinalNorm();

    /// <summary>The rename table: ONNX initializer name to (Hugging Face key, transpose?), or null to drop it.</summary>
    public static (string Key, bool Transpose)? Rename(string onnxName)
    {
        if (onnxName is "cos_cache" or "sin_cache") return null;   // recomputed from the config
        if (onnxName == "lm_head.MatMul.weight") return ("lm_head.weight", true);
        if (FinalNorm().IsMatch(onnxName)) return ("model.norm.weight", false);
        var m = AttentionWeight().Match(onnxName);
        if (m.Success) return ($"model.layers.{m.Groups[1].Value}.self_attn.{m.Groups[2].Value}.weight", true);
        m = MlpWeight().Match(onnxName);
        if (m.Success) return ($"model.layers.{m.Groups[1].Value}.mlp.{m.Groups[2].Value}.weight", true);
        return (onnxName, false);   // embed_tokens and the per-layer norms keep their names
    }

    /// <summary>Reads every weight as a Hugging Face state dict (CPU, stored dtype).</summary>
    public static Dictionary<string, Tensor> ReadStateDict(string onnxPath)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var init in OnnxInitializerReader.ReadInitializers(onnxPath))
        {
            if (Rename(init.Name) is not { } target) continue;
            var tensor = OnnxInitializerReader.ToTensor(init, onnxPath);
            if (target.Transpose)
            {
                var transposed = tensor.t().contiguous();
                tensor.Dispose();
                tensor = transposed;
            }
            result[target.Key] = tensor;
        }
        return result;
    }

    /// <summary>
    /// The Llama config implied by the weights' shapes and genai_config.json (heads, head size, ids).
    /// The model builder does not record eps or theta; these default to the tiny test model's (1e-6, 10000).
    /// </summary>
    public static LlamaConfig InferConfig(string onnxPath, IReadOnlyDictionary<string, Tensor> stateDict, double rmsNormEps = 1e-6, double ropeTheta = 10000)
    {
        var embed = stateDict["model.embed_tokens.weight"];
        int layers = stateDict.Keys.Count(k => k.EndsWith(".input_layernorm.weight", StringComparison.Ordinal));
        int intermediate = (int)stateDict["model.layers.0.mlp.gate_proj.weight"].shape[0];
        int heads = 0, kvHeads = 0, headSize = 0, bos = 1, eos = 2;
        int? pad = null;
        string genai = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(onnxPath))!, "genai_config.json");
        if (File.Exists(genai))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(genai));
            var modelSection = doc.RootElement.GetProperty("model");
            var decoder = modelSection.GetProperty("decoder");
            heads = decoder.GetProperty("num_attention_heads").GetInt32();
            kvHeads = decoder.GetProperty("num_key_value_heads").GetInt32();
            headSize = decoder.GetProperty("head_size").GetInt32();
            bos = modelSection.GetProperty("bos_token_id").GetInt32();
            eos = modelSection.GetProperty("eos_token_id").GetInt32();
            if (modelSection.TryGetProperty("pad_token_id", out var p)) pad = p.GetInt32();
        }
        else
        {
            throw new FileNotFoundException("genai_config.json is needed beside the ONNX model for the head counts", genai);
        }
        return new LlamaConfig
        {
            VocabSize = (int)embed.shape[0], HiddenSize = (int)embed.shape[1], IntermediateSize = intermediate,
            NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = kvHeads, HeadDim = headSize,
            RmsNormEps = rmsNormEps, RopeTheta = ropeTheta, RopeScaling = null, MaxPositionEmbeddings = 2048,
            TieWordEmbeddings = !stateDict.ContainsKey("lm_head.weight"), BosTokenId = bos, EosTokenId = [eos], PadTokenId = pad,
            TorchDtype = "float16",
        }.Validate();
    }
}
