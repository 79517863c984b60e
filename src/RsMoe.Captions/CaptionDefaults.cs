namespace RsMoe.Captions;

/// <summary>What a caption is asked with when the caller says nothing else.</summary>
public static class CaptionDefaults
{
    /// <summary>The instruction for a caption: RSICap's most common prompt, the one the experts are trained with.</summary>
    public const string Instruction = "Describe this image in detail.";
}
