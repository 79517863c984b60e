using System.Text.Json;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Configs;
using RsMoe.Model.Llm;
using RsMoe.Model.QFormer;
using RsMoe.Model.Tokenizers;
using RsMoe.Model.Vision;

namespace RsMoe.TestSupport;

/// <summary>
/// The paper's checkpoints with their configuration shapes shrunk, random, in the Hugging Face layouts: an InstructBLIP
/// folder (vision 28 px / patch 7, a 2-layer Q-Former, 4 queries, language model width 48, the Q-Former's tokenizer)
/// and a Llama 32 wide with GPT-2's tokenizer (so the projection must start afresh: 48 → 32).
/// </summary>
public static class ShrunkPaperCheckpoints
{
    public static (string InstructBlip, string Llama) Write(string root)
    {
        string blip = Path.Combine(root, "instructblip");
        Directory.CreateDirectory(Path.Combine(blip, "qformer_tokenizer"));
        var vocabulary = BertWordPieceTokenizer.BuildVocabulary(["Describe this image in detail.", "Take a look at this image and describe what you notice.",
            "Could you describe the contents of this image for me?", "Please provide a detailed description of the picture."]);
        File.WriteAllLines(Path.Combine(blip, "qformer_tokenizer", "vocab.txt"), vocabulary);
        var vision = new VisionConfig { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, ImageSize = 28, PatchSize = 7 };
        var qformer = new QFormerConfig { VocabSize = vocabulary.Count, HiddenSize = 24, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 48, EncoderHiddenSize = 32 };
        var text = new LlamaConfig { VocabSize = 100, HiddenSize = 48, IntermediateSize = 96, NumHiddenLayers = 1, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 12, RopeScaling = null, TieWordEmbeddings = false };
        File.WriteAllText(Path.Combine(blip, "config.json"), JsonSerializer.Serialize(new
        {
            model_type = "instructblip", num_query_tokens = 4,
            vision_config = JsonSerializer.SerializeToNode(vision, HfConfigJson.Options),
            qformer_config = JsonSerializer.SerializeToNode(qformer, HfConfigJson.Options),
            text_config = JsonSerializer.SerializeToNode(text, HfConfigJson.Options),
        }));
        using (var visionModel = new EvaVisionModel(vision))
        using (var encoder = new VlmEncoder(qformer, 4, text.HiddenSize, new RsMoe.Model.Router.RouterConfig()))
        {
            var tensors = visionModel.state_dict().ToDictionary(p => "vision_model." + p.Key, p => p.Value);
            foreach (var (k, v) in encoder.state_dict()) if (!k.StartsWith("router.", StringComparison.Ordinal)) tensors[k] = v;
            SafetensorsWriter.Save(Path.Combine(blip, "model.safetensors"), tensors);
        }

        string llm = Path.Combine(root, "llama");
        using (var lm = LlamaForCausalLM.Create(new LlamaConfig { VocabSize = 50257, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 8, RopeScaling = null, TieWordEmbeddings = true, BosTokenId = 50256, EosTokenId = [50256] }, seed: 3))
            lm.SavePretrained(llm);
        File.WriteAllText(Path.Combine(llm, "tokenizer.gpt2"), "");
        return (blip, llm);
    }
}
