namespace Engine.Kernels.Ilgpu;

/// <summary>Four F32 accumulators of one output row held in registers by a matrix-matrix thread.</summary>
internal struct Row4
{
    public float C0, C1, C2, C3;

    public readonly Row4 Fma(float a, float b0, float b1, float b2, float b3) =>
        new() { C0 = C0 + a * b0, C1 = C1 + a * b1, C2 = C2 + a * b2, C3 = C3 + a * b3 };
}

/// <summary>A matrix-matrix thread's 4x4 block of F32 accumulators: four rows of <see cref="Row4"/>.</summary>
internal struct Row4x4
{
    public Row4 R0, R1, R2, R3;
}
